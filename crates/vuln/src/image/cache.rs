//! A local digest-addressed blob cache, laid out as an OCI image layout `blobs/` tree.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::{BlobReader, Descriptor, Digest, ImageError};

/// A directory of blobs named by their sha256 (`<dir>/blobs/sha256/<hex>`).
///
/// Blobs are written to a temporary file beside their final name, hashed while written, and
/// renamed into place only when the hash matches: a reader never sees a partial or wrong
/// blob, so a registry source can consult the cache before downloading and skip layers
/// shared between images.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> BlobCache {
        BlobCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    /// Whether a blob is cached.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens a cached blob.
    pub fn open(&self, desc: &Descriptor) -> Result<Option<BlobReader<'static>>, ImageError> {
        let p = self.path(&desc.digest);
        match std::fs::File::open(&p) {
            Ok(f) => Ok(Some(Box::new(std::io::BufReader::new(f)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io(p.display().to_string(), e)),
        }
    }

    /// Stores a blob read from `content`, verifying it hashes to `digest` and is at most
    /// `max_bytes` long; returns its path.
    pub fn put(
        &self,
        digest: &Digest,
        mut content: impl Read,
        max_bytes: u64,
    ) -> Result<PathBuf, ImageError> {
        let final_path = self.path(digest);
        let dir = final_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        fs_err::create_dir_all(&dir).map_err(|e| ImageError::io(dir.display().to_string(), e))?;
        let tmp_path = dir.join(format!(".{}.partial", digest.hex()));
        let io = |e| ImageError::io(tmp_path.display().to_string(), e);
        let mut tmp = std::fs::File::create(&tmp_path).map_err(io)?;
        let mut hasher = sha2::Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let result = loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(ImageError::io(format!("blob {digest}"), e)),
            };
            total += n as u64;
            if total > max_bytes {
                break Err(ImageError::LimitExceeded {
                    layer: digest.to_string(),
                    path: "(blob)".into(),
                    what: "blob size",
                    limit: max_bytes,
                });
            }
            hasher.update(&buf[..n]);
            if let Err(e) = tmp.write_all(&buf[..n]) {
                break Err(io(e));
            }
        };
        let result = result.and_then(|()| {
            let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
            if actual == digest.as_str() {
                Ok(())
            } else {
                Err(ImageError::DigestMismatch {
                    what: format!("blob cache {}", self.dir.display()),
                    expected: digest.to_string(),
                    actual,
                })
            }
        });
        drop(tmp);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(e);
        }
        std::fs::rename(&tmp_path, &final_path).map_err(io)?;
        Ok(final_path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn put_verifies_and_get_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let data = b"layer bytes".to_vec();
        let d = Digest::of(&data);
        assert!(!cache.contains(&d));
        cache.put(&d, data.as_slice(), 1024).unwrap();
        assert!(cache.contains(&d));
        let wrong = Digest::of(b"other");
        let err = cache.put(&wrong, data.as_slice(), 1024).unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert!(!cache.contains(&wrong));
        let err = cache.put(&d, data.as_slice(), 4).unwrap_err();
        assert!(matches!(err, ImageError::LimitExceeded { .. }), "{err}");
    }
}
