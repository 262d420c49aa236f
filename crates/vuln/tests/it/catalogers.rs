//! Conformance of every cataloger over the package databases of peer scanners' test
//! fixtures (go-rpmdb, syft, trivy, claircore). Expected values are those the upstream tests
//! assert, where they publish them; counts are otherwise cross-checked against the raw
//! records of the fixture.

use palisade_vuln::catalog::{
    self, PackageType, apk, dotnet, dpkg, golang, java, npm, osrelease, php, python, rpm, ruby,
    rust,
};
use palisade_vuln::image::{Limits, open_rootfs};

use crate::imagekit::corpus_file;

fn pairs(pkgs: &[catalog::Package]) -> Vec<(String, String)> {
    pkgs.iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

fn has(pkgs: &[catalog::Package], name: &str, version: &str) -> bool {
    pkgs.iter().any(|p| p.name == name && p.version == version)
}

#[test]
fn rpm_sqlite_backend() {
    let Some(db) = corpus_file("go-rpmdb/pkg/testdata/cbl-mariner-2.0/rpmdb.sqlite") else {
        return;
    };
    let pkgs = rpm::parse_database("var/lib/rpm/rpmdb.sqlite", &db).unwrap();
    assert_eq!(pkgs.len(), 129);
    // go-rpmdb testdata/cbl-mariner-2.0/curl.json
    let curl = pkgs.iter().find(|p| p.name == "curl").unwrap();
    assert_eq!(curl.version, "7.76.0-6.cm2");
    assert_eq!(curl.metadata.arch.as_deref(), Some("x86_64"));
    assert_eq!(curl.metadata.license.as_deref(), Some("MIT"));
    assert_eq!(curl.metadata.source_name.as_deref(), Some("curl"));
    assert_eq!(
        curl.metadata.extra.get("sourceRpm").map(String::as_str),
        Some("curl-7.76.0-6.cm2.src.rpm")
    );
    assert_eq!(
        curl.metadata.extra.get("vendor").map(String::as_str),
        Some("Microsoft Corporation")
    );
}

#[test]
fn rpm_ndb_backend() {
    let Some(db) = corpus_file("go-rpmdb/pkg/testdata/sle15-bci/Packages.db") else {
        return;
    };
    let pkgs = rpm::parse_database("var/lib/rpm/Packages.db", &db).unwrap();
    // go-rpmdb's SLE15WithNDB expectation: (arch, name, version-release) in database order.
    let want = [
        ("noarch", "system-user-root", "20190513-3.3.1"),
        ("x86_64", "filesystem", "15.0-11.3.2"),
        ("x86_64", "glibc", "2.31-9.3.2"),
        ("x86_64", "libpcre1", "8.45-20.10.1"),
        ("x86_64", "libgmp10", "6.1.2-4.6.1"),
        ("x86_64", "libgcc_s1", "11.2.1+git610-1.3.9"),
        ("x86_64", "libcap2", "2.26-4.6.1"),
        ("x86_64", "libstdc++6", "11.2.1+git610-1.3.9"),
        ("x86_64", "libncurses6", "6.1-5.9.1"),
        ("x86_64", "terminfo-base", "6.1-5.9.1"),
        ("x86_64", "libattr1", "2.4.47-2.19"),
        ("x86_64", "libselinux1", "3.0-1.31"),
        ("x86_64", "libreadline7", "7.0-19.6.1"),
        ("x86_64", "bash", "4.4-19.6.1"),
        ("x86_64", "libacl1", "2.2.52-4.3.1"),
        ("x86_64", "coreutils", "8.32-3.2.1"),
        ("x86_64", "sles-release", "15.3-55.4.1"),
        ("noarch", "ca-certificates-mozilla-prebuilt", "2.44-21.1"),
        ("x86_64", "libgpg-error0", "1.29-1.8"),
        ("x86_64", "libpopt0", "1.16-3.22"),
        ("noarch", "file-magic", "5.32-7.14.1"),
        ("x86_64", "libbz2-1", "1.0.6-5.11.1"),
        ("x86_64", "liblua5_3-5", "5.3.6-3.6.1"),
        ("x86_64", "liblzma5", "5.2.3-4.3.1"),
        ("x86_64", "libz1", "1.2.11-3.21.1"),
        ("x86_64", "libzstd1", "1.4.4-1.6.1"),
        ("x86_64", "libmagic1", "5.32-7.14.1"),
        ("x86_64", "libdw1", "0.168-4.5.3"),
        ("x86_64", "libebl-plugins", "0.168-4.5.3"),
        ("x86_64", "libelf1", "0.168-4.5.3"),
        ("x86_64", "libcrypt1", "4.4.15-2.51"),
        ("x86_64", "perl-base", "5.26.1-15.87"),
        ("x86_64", "libgcrypt20", "1.8.2-8.39.1"),
        ("noarch", "rpm-config-SUSE", "1-5.6.1"),
        ("x86_64", "rpm-ndb", "4.14.3-40.1"),
    ];
    let got: Vec<(&str, &str, &str)> = pkgs
        .iter()
        .map(|p| {
            (
                p.metadata.arch.as_deref().unwrap_or(""),
                p.name.as_str(),
                p.version.as_str(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn rpm_berkeley_db_backend() {
    let Some(db) = corpus_file("go-rpmdb/pkg/testdata/libuuid/Packages") else {
        return;
    };
    let pkgs = rpm::parse_database("var/lib/rpm/Packages", &db).unwrap();
    assert_eq!(
        pairs(&pkgs),
        vec![("libuuid".to_owned(), "2.32.1-42.el8_8".to_owned())]
    );
    assert_eq!(pkgs[0].metadata.source_name.as_deref(), Some("util-linux"));
    // Not an rpm database at all.
    assert!(rpm::parse_database("x", b"not a database, just some text bytes here").is_err());
}

#[test]
fn rpm_databases_in_a_root_filesystem() {
    let Some(root) = palisade_testkit::corpus(
        "vuln/fixtures/syft/syft/pkg/cataloger/redhat/testdata/glob-paths",
    ) else {
        return;
    };
    // The glob-paths fixture holds placeholder files at every database path: each is picked
    // and rejected with a reason, none is fatal.
    let fs = open_rootfs(&root, Limits::default()).unwrap();
    let sbom = catalog::catalog(&fs).unwrap();
    assert!(sbom.packages.is_empty());
    for p in [
        "var/lib/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages.db",
        "usr/share/rpm/rpmdb.sqlite",
    ] {
        assert!(
            sbom.warnings.iter().any(|w| w.starts_with(p)),
            "{p}: {:#?}",
            sbom.warnings
        );
    }
}

#[test]
fn dpkg_status_files() {
    // claircore dpkg fixtures: every paragraph is an installed package.
    for (file, count) in [("debian-only", 1), ("postgresql", 3), ("texlive", 357)] {
        let Some(data) = corpus_file(&format!("claircore/dpkg/testdata/{file}.status")) else {
            return;
        };
        let pkgs = dpkg::parse_status(&data);
        assert_eq!(pkgs.len(), count, "{file}");
        let raw = String::from_utf8_lossy(&data);
        assert_eq!(
            raw.lines().filter(|l| l.starts_with("Package:")).count(),
            count
        );
    }
    let Some(data) =
        corpus_file("syft/syft/pkg/cataloger/debian/testdata/var/lib/dpkg/status.d/deinstall")
    else {
        return;
    };
    // One package installed, one removed with its configuration files left.
    assert_eq!(
        pairs(&dpkg::parse_status(&data)),
        vec![(
            "linux-image-6.14.0-1012-aws".to_owned(),
            "6.14.0-1012.12~24.04.1".to_owned()
        )]
    );
}

#[test]
fn dpkg_distroless_status_d() {
    let Some(root) = palisade_testkit::corpus(
        "vuln/fixtures/syft/syft/pkg/cataloger/debian/testdata/image-distroless-deb",
    ) else {
        return;
    };
    let fs = open_rootfs(&root, Limits::default()).unwrap();
    let sbom = catalog::catalog(&fs).unwrap();
    // syft: libsqlite3-0 3.34.1-3 (source sqlite3), arm64; the .md5sums/.preinst beside it
    // are not control files.
    assert_eq!(
        pairs(&sbom.packages),
        vec![("libsqlite3-0".to_owned(), "3.34.1-3".to_owned())]
    );
    let p = &sbom.packages[0];
    assert_eq!(p.metadata.source_name.as_deref(), Some("sqlite3"));
    assert_eq!(
        p.locations,
        vec!["var/lib/dpkg/status.d/libsqlite3-0".to_owned()]
    );
    assert_eq!(
        p.purl,
        "pkg:deb/debian/libsqlite3-0@3.34.1-3?arch=arm64&upstream=sqlite3"
    );
}

#[test]
fn apk_installed_databases() {
    let Some(data) = corpus_file("trivy/pkg/fanal/analyzer/pkg/apk/testdata/apk") else {
        return;
    };
    let pkgs = apk::parse_installed(&data);
    // 16 records, one of them (`invalidPackageWithoutAVersion`) without a version.
    assert_eq!(pkgs.len(), 15);
    assert!(
        !pkgs
            .iter()
            .any(|p| p.name == "invalidPackageWithoutAVersion")
    );
    assert!(has(&pkgs, "ada-libs", "2.7.4-r0"));
    let musl = &pkgs[0];
    assert_eq!(
        (musl.name.as_str(), musl.version.as_str()),
        ("musl", "1.1.14-r10")
    );
    assert_eq!(musl.metadata.license.as_deref(), Some("MIT"));
    assert_eq!(musl.metadata.source_name.as_deref(), Some("musl"));
    assert!(
        pkgs.iter()
            .all(|p| p.metadata.arch.as_deref() == Some("x86_64"))
    );
    let Some(data) =
        corpus_file("syft/syft/pkg/cataloger/alpine/testdata/multiple-1/lib/apk/db/installed")
    else {
        return;
    };
    let pkgs = apk::parse_installed(&data);
    assert!(has(&pkgs, "musl", "1.2.4_git20230717-r4"));
    assert!(has(&pkgs, "busybox-binsh", "1.36.1-r15"));
    assert_eq!(
        pkgs.iter()
            .find(|p| p.name == "busybox-binsh")
            .unwrap()
            .metadata
            .source_name
            .as_deref(),
        Some("busybox")
    );
}

#[test]
fn os_release_files() {
    let Some(root) = palisade_testkit::corpus("vuln/fixtures/claircore/alpine/testdata") else {
        return;
    };
    // claircore's `want` files name the release each os-release belongs to.
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let (Ok(want), Ok(text)) = (
            std::fs::read_to_string(dir.join("want")),
            std::fs::read_to_string(dir.join("etc/os-release")),
        ) else {
            continue;
        };
        let want: serde_json::Value = serde_json::from_str(&want).unwrap();
        let d = osrelease::parse(&text).unwrap();
        assert_eq!(d.id, want[0]["did"].as_str().unwrap());
        assert_eq!(d.pretty_name.as_deref(), want[0]["pretty_name"].as_str());
        let version = want[0]["version"].as_str().unwrap();
        if version != "edge" {
            assert!(
                d.version_id.as_deref().unwrap().starts_with(version),
                "{dir:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
    let Some(text) = corpus_file("claircore/debian/testdata/dist/12/etc/os-release") else {
        return;
    };
    let d = osrelease::parse(&String::from_utf8_lossy(&text)).unwrap();
    assert_eq!(
        (
            d.id.as_str(),
            d.version_id.as_deref(),
            d.codename.as_deref()
        ),
        ("debian", Some("12"), Some("bookworm"))
    );
    assert!(osrelease::parse("NAME=nothing\n").is_none());
}

#[test]
fn python_metadata() {
    let base = "trivy/pkg/fanal/analyzer/language/python/packaging/testdata";
    for (file, name, version, license) in [
        (
            "happy-dist/distlib-0.3.1.dist-info/METADATA",
            "distlib",
            "0.3.1",
            Some("Python license"),
        ),
        (
            "happy-egg/distlib-0.3.1.egg-info/PKG-INFO",
            "distlib",
            "0.3.1",
            Some("Python license"),
        ),
        (
            "classifier-license-dist/setuptools-51.3.3.dist-info/METADATA",
            "setuptools",
            "51.3.3",
            None,
        ),
    ] {
        let Some(data) = corpus_file(&format!("{base}/{file}")) else {
            return;
        };
        let p = python::parse_metadata(&data).unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            (name, version),
            "{file}"
        );
        if license.is_some() {
            assert_eq!(p.metadata.license.as_deref(), license, "{file}");
        }
    }
    let Some(root) = palisade_testkit::corpus(
        "vuln/fixtures/syft/syft/pkg/cataloger/python/testdata/site-packages",
    ) else {
        return;
    };
    let sbom = catalog::catalog(&open_rootfs(&root, Limits::default()).unwrap()).unwrap();
    assert_eq!(
        pairs(&sbom.packages),
        vec![
            ("Pygments".to_owned(), "2.6.1".to_owned()),
            ("requests".to_owned(), "2.22.0".to_owned())
        ]
    );
    assert_eq!(sbom.packages[0].purl, "pkg:pypi/pygments@2.6.1");
    assert_eq!(
        sbom.packages[1].locations.len(),
        3,
        "{:?}",
        sbom.packages[1].locations
    );
}

#[test]
fn npm_installed_and_lockfiles() {
    let Some(root) = palisade_testkit::corpus(
        "vuln/fixtures/trivy/pkg/fanal/analyzer/language/nodejs/npm/testdata/happy",
    ) else {
        return;
    };
    let sbom = catalog::catalog(&open_rootfs(&root, Limits::default()).unwrap()).unwrap();
    // trivy's npm analyzer expectation for this fixture.
    let want = [
        ("@babel/parser", "7.23.6"),
        ("ansi-colors", "3.2.3"),
        ("array-flatten", "1.1.1"),
        ("body-parser", "1.18.3"),
        ("debug", "2.6.9"),
        ("express", "4.16.4"),
        ("ms", "2.0.0"),
        ("ms", "2.1.1"),
    ];
    let got: Vec<(&str, &str)> = sbom
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(got, want);
    let babel = &sbom.packages[0];
    assert_eq!(babel.purl, "pkg:npm/%40babel/parser@7.23.6");
    assert!(
        babel
            .locations
            .contains(&"node_modules/@babel/parser/package.json".to_owned())
    );
    assert!(babel.locations.contains(&"package-lock.json".to_owned()));

    let Some(lock) =
        corpus_file("syft/syft/pkg/cataloger/javascript/testdata/pkg-lock/package-lock.json")
    else {
        return;
    };
    let pkgs = npm::parse_package_lock(&lock).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    let expected = v["packages"]
        .as_object()
        .map(|m| m.keys().filter(|k| k.contains("node_modules/")).count())
        .unwrap_or_else(|| v["dependencies"].as_object().unwrap().len());
    assert_eq!(pkgs.len(), expected);
    assert!(npm::parse_package_lock(b"{not json").is_err());
}

#[test]
fn go_binaries() {
    let base = "trivy/pkg/dependency/parser/golang/binary/testdata";
    let Some(elf) = corpus_file(&format!("{base}/test.elf")) else {
        return;
    };
    // trivy's expectation: main module, stdlib, three dependencies (Go 1.15: pointer-format
    // build info).
    let pkgs = golang::parse_binary(&elf).unwrap();
    assert_eq!(
        pairs(&pkgs),
        [
            ("stdlib", "v1.15.2"),
            ("github.com/aquasecurity/test", ""),
            (
                "github.com/aquasecurity/go-pep440-version",
                "v0.0.0-20210121094942-22b2f8951d46"
            ),
            (
                "github.com/aquasecurity/go-version",
                "v0.0.0-20210121072130-637058cfe492"
            ),
            ("golang.org/x/xerrors", "v0.0.0-20200804184101-5ec99f83aff1"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // Go 1.22: inline build info; the main version comes from -ldflags -X main.version.
    let Some(elf) = corpus_file(&format!("{base}/main-version-via-ldflags.elf")) else {
        return;
    };
    assert_eq!(
        pairs(&golang::parse_binary(&elf).unwrap()),
        [
            ("stdlib", "v1.22.1"),
            ("github.com/aquasecurity/test", "v1.0.0")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let Some(elf) = corpus_file(&format!("{base}/goexperiment")) else {
        return;
    };
    assert_eq!(
        pairs(&golang::parse_binary(&elf).unwrap()),
        vec![("stdlib".to_owned(), "v1.22.1".to_owned())]
    );
    let Some(dummy) = corpus_file(&format!("{base}/dummy")) else {
        return;
    };
    assert!(golang::parse_binary(&dummy).is_none());
    let Some(rust_bin) = corpus_file("trivy/pkg/dependency/parser/rust/binary/testdata/test.elf")
    else {
        return;
    };
    assert!(golang::parse_binary(&rust_bin).is_none());
}

#[test]
fn rust_lockfiles_and_auditable_binaries() {
    let Some(lock) = corpus_file("syft/syft/pkg/cataloger/rust/testdata/Cargo.lock") else {
        return;
    };
    let pkgs = rust::parse_cargo_lock(&lock).unwrap();
    assert_eq!(pkgs.len(), 14);
    assert!(has(&pkgs, "ansi_term", "0.12.1"));
    assert!(has(&pkgs, "errno", "0.3.9"));
    assert_eq!(pkgs[0].compute_purl(None), "pkg:cargo/ansi_term@0.12.1");
    let Some(bin) = corpus_file("trivy/pkg/dependency/parser/rust/binary/testdata/test.elf") else {
        return;
    };
    // trivy's rust binary expectation.
    let pkgs = rust::parse_auditable_binary(&bin).unwrap();
    assert_eq!(
        pairs(&pkgs),
        [("crate_with_features", "0.1.0"), ("library_crate", "0.1.0")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let Some(go_bin) = corpus_file("trivy/pkg/dependency/parser/golang/binary/testdata/test.elf")
    else {
        return;
    };
    assert!(rust::parse_auditable_binary(&go_bin).is_none());
}

#[test]
fn java_archives() {
    let base = "trivy/pkg/dependency/parser/java/jar/testdata";
    let Some(nested) = corpus_file(&format!("{base}/nested.jar")) else {
        return;
    };
    // trivy: three levels of nesting, pom.properties outside META-INF/maven.
    let pkgs = java::parse_archive("nested.jar", &nested).unwrap();
    assert_eq!(
        pairs(&pkgs),
        [
            ("test:nested", "0.0.1"),
            ("test:nested2", "0.0.2"),
            ("test:nested3", "0.0.3")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        pkgs[2].locations,
        vec!["META-INF/jars/nested2.jar:META-INF/jars/nested3.jar".to_owned()]
    );
    let Some(war) = corpus_file(&format!("{base}/maven.war")) else {
        return;
    };
    let pkgs = java::parse_archive("maven.war", &war).unwrap();
    for (n, v) in [
        ("com.example:web-app", "1.0-SNAPSHOT"),
        ("com.fasterxml.jackson.core:jackson-databind", "2.9.10.6"),
        ("com.fasterxml.jackson.core:jackson-annotations", "2.9.10"),
        ("com.fasterxml.jackson.core:jackson-core", "2.9.10"),
        ("org.slf4j:slf4j-api", "1.7.30"),
        ("com.cronutils:cron-utils", "9.1.2"),
        ("org.apache.commons:commons-lang3", "3.11"),
        ("org.glassfish:javax.el", "3.0.0"),
    ] {
        assert!(has(&pkgs, n, v), "{n} {v}: {:?}", pairs(&pkgs));
    }
    let Some(war) = corpus_file(&format!("{base}/gradle.war")) else {
        return;
    };
    let pkgs = java::parse_archive("gradle.war", &war).unwrap();
    for (n, v) in [
        ("commons-dbcp:commons-dbcp", "1.4"),
        ("commons-pool:commons-pool", "1.6"),
        ("log4j:log4j", "1.2.17"),
        ("org.apache.commons:commons-compress", "1.19"),
    ] {
        assert!(has(&pkgs, n, v), "{n} {v}: {:?}", pairs(&pkgs));
    }
    assert_eq!(
        pkgs.iter()
            .find(|p| p.name == "log4j:log4j")
            .unwrap()
            .compute_purl(None),
        "pkg:maven/log4j/log4j@1.2.17"
    );
    // Corrupt archives are errors for that file only.
    let Some(corrupt) = corpus_file("syft/syft/pkg/cataloger/java/testdata/corrupt/example.jar")
    else {
        return;
    };
    assert!(java::parse_archive("example.jar", &corrupt).is_err());
}

#[test]
fn ruby_gemspecs() {
    // RubyGems writes installed specifications in this shape; no gemspec is in the corpus
    // (program files were filtered out of it).
    let spec = br#"# -*- encoding: utf-8 -*-
# stub: rake 13.0.6 ruby lib

Gem::Specification.new do |s|
  s.name = "rake".freeze
  s.version = "13.0.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 1.3.2".freeze) if s.respond_to? :required_rubygems_version=
  s.authors = ["Hiroshi SHIBATA".freeze, "Eric Hodel".freeze]
  s.licenses = ["MIT".freeze]
  s.summary = "Rake is a Make-like program implemented in Ruby".freeze
end
"#;
    let p = ruby::parse_gemspec(spec).unwrap();
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.kind),
        ("rake", "13.0.6", PackageType::Gem)
    );
    assert_eq!(p.metadata.license.as_deref(), Some("MIT"));
    assert_eq!(p.compute_purl(None), "pkg:gem/rake@13.0.6");
    assert!(ruby::parse_gemspec(b"puts 1").is_none());
}

#[test]
fn php_composer() {
    let Some(lock) = corpus_file("syft/syft/pkg/cataloger/php/testdata/composer.lock") else {
        return;
    };
    let v: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    let expected =
        v["packages"].as_array().unwrap().len() + v["packages-dev"].as_array().map_or(0, Vec::len);
    let pkgs = php::parse_composer(&lock).unwrap();
    assert_eq!(pkgs.len(), expected);
    assert!(has(&pkgs, "adoy/fastcgi-client", "1.0.2"));
    assert!(has(&pkgs, "alcaeus/mongo-php-adapter", "1.1.11"));
    assert_eq!(
        pkgs.iter()
            .find(|p| p.name == "adoy/fastcgi-client")
            .unwrap()
            .compute_purl(None),
        "pkg:composer/adoy/fastcgi-client@1.0.2"
    );
    for installed in [
        "syft/syft/pkg/cataloger/php/testdata/vendor/composer_1/installed.json",
        "syft/syft/pkg/cataloger/php/testdata/vendor/composer_2/installed.json",
    ] {
        let Some(data) = corpus_file(installed) else {
            return;
        };
        let pkgs = php::parse_composer(&data).unwrap();
        assert!(
            has(&pkgs, "asm89/stack-cors", "1.3.0"),
            "{installed}: {:?}",
            pairs(&pkgs)
        );
        assert!(
            has(&pkgs, "behat/mink", "v1.8.1"),
            "{installed}: {:?}",
            pairs(&pkgs)
        );
    }
}

#[test]
fn dotnet_deps_json() {
    let Some(data) =
        corpus_file("trivy/pkg/dependency/parser/dotnet/core_deps/testdata/happy.deps.json")
    else {
        return;
    };
    let pkgs = dotnet::parse_deps_json(&data).unwrap();
    assert_eq!(
        pairs(&pkgs),
        vec![("Newtonsoft.Json".to_owned(), "13.0.1".to_owned())]
    );
    assert_eq!(
        pkgs[0].compute_purl(None),
        "pkg:nuget/Newtonsoft.Json@13.0.1"
    );
    let Some(data) =
        corpus_file("syft/syft/pkg/cataloger/dotnet/testdata/dir-example-1/TestLibrary.deps.json")
    else {
        return;
    };
    let pkgs = dotnet::parse_deps_json(&data).unwrap();
    assert_eq!(pkgs.len(), 12);
    assert!(has(&pkgs, "Serilog", "2.10.0"));
    assert!(has(&pkgs, "AWSSDK.Core", "3.7.10.6"));
}
