//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

use std::path::{Path, PathBuf};

use super::{BlobReader, Descriptor, ImageError, ImageSource, Root};

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Opens a layout directory (it must hold `index.json`).
    pub fn open(dir: &Path) -> Result<OciLayout, ImageError> {
        if !dir.join("index.json").is_file() {
            return Err(ImageError::invalid(
                dir.display().to_string(),
                "not an OCI image layout (no index.json)",
            ));
        }
        Ok(OciLayout {
            dir: dir.to_path_buf(),
        })
    }

    /// Path of a blob.
    pub fn blob_path(&self, desc: &Descriptor) -> PathBuf {
        self.dir
            .join("blobs")
            .join("sha256")
            .join(desc.digest.hex())
    }
}

impl ImageSource for OciLayout {
    fn name(&self) -> String {
        format!("oci-layout:{}", self.dir.display())
    }

    fn root(&self) -> Result<Root, ImageError> {
        let p = self.dir.join("index.json");
        let f = fs_err::File::open(&p).map_err(|e| ImageError::io(p.display().to_string(), e))?;
        let bytes = super::resolve::read_limited(f, 8 << 20, &p.display().to_string())?;
        Ok(Root::OciIndex(bytes))
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<BlobReader<'_>, ImageError> {
        let p = self.blob_path(desc);
        match std::fs::File::open(&p) {
            Ok(f) => Ok(Box::new(std::io::BufReader::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ImageError::BlobNotFound {
                source_name: self.name(),
                digest: desc.digest.to_string(),
            }),
            Err(e) => Err(ImageError::io(p.display().to_string(), e)),
        }
    }
}
