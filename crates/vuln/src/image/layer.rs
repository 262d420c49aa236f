//! One layer as a verified, bounded tar stream.
//!
//! ```text
//! blob ─► Tap (sha256 of the stored bytes) ─► gzip | zstd | plain ─► Meter (inflated bytes,
//!         sha256 = diff_id, cap) ─► tar::Archive
//! ```
//! [`LayerStream::finish`] drains what the tar reader left (end-of-archive padding) so both
//! hashes cover the whole blob, then compares them with the layer's digest and diff id.
//! Both hashes run on a helper thread fed in 256 KiB chunks, so verification overlaps
//! decompression instead of adding to it.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

use sha2::Digest as _;

use super::resolve::{LayerRef, Locator};
use super::{ImageError, ImageSource, Limits};

/// Which stream a chunk belongs to.
#[derive(Clone, Copy)]
enum Stream {
    Stored,
    Inflated,
}

/// Chunks are handed to the hasher in pieces of about this size.
const HASH_CHUNK: usize = 256 * 1024;

/// The two sha256 digests of a layer, computed on a helper thread so that hashing overlaps
/// decompression and parsing (hashing both streams costs about a third of inflating them);
/// inline when no thread can be started.
enum Hashers {
    Inline {
        stored: sha2::Sha256,
        inflated: sha2::Sha256,
    },
    Thread {
        tx: Option<std::sync::mpsc::SyncSender<(Stream, Vec<u8>)>>,
        handle: Option<std::thread::JoinHandle<(sha2::Sha256, sha2::Sha256)>>,
        pending: [Vec<u8>; 2],
    },
}

impl Hashers {
    fn new() -> Hashers {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Stream, Vec<u8>)>(16);
        let spawned = std::thread::Builder::new()
            .name("layer-sha256".into())
            .spawn(move || {
                let (mut stored, mut inflated) = (sha2::Sha256::new(), sha2::Sha256::new());
                for (which, chunk) in rx {
                    match which {
                        Stream::Stored => stored.update(&chunk),
                        Stream::Inflated => inflated.update(&chunk),
                    }
                }
                (stored, inflated)
            });
        match spawned {
            Ok(handle) => Hashers::Thread {
                tx: Some(tx),
                handle: Some(handle),
                pending: [Vec::new(), Vec::new()],
            },
            Err(_) => Hashers::Inline {
                stored: sha2::Sha256::new(),
                inflated: sha2::Sha256::new(),
            },
        }
    }

    fn update(&mut self, which: Stream, bytes: &[u8]) {
        match self {
            Hashers::Inline { stored, inflated } => match which {
                Stream::Stored => stored.update(bytes),
                Stream::Inflated => inflated.update(bytes),
            },
            Hashers::Thread { tx, pending, .. } => {
                let buf = &mut pending[which as usize];
                if buf.capacity() == 0 {
                    buf.reserve(HASH_CHUNK);
                }
                buf.extend_from_slice(bytes);
                if buf.len() >= HASH_CHUNK {
                    let chunk = std::mem::replace(buf, Vec::with_capacity(HASH_CHUNK));
                    if let Some(tx) = tx {
                        // A send fails only if the hasher is gone; `finish` reports that.
                        let _ = tx.send((which, chunk));
                    }
                }
            }
        }
    }

    /// The final digests (`sha256:<hex>` of the stored and the inflated stream); `None` if
    /// the hashing thread died.
    fn finish(&mut self) -> Option<(String, String)> {
        let hex = |h: sha2::Sha256| format!("sha256:{}", hex::encode(h.finalize()));
        match self {
            Hashers::Inline { stored, inflated } => {
                Some((hex(stored.clone()), hex(inflated.clone())))
            }
            Hashers::Thread {
                tx,
                handle,
                pending,
                ..
            } => {
                let tx = tx.take()?;
                for which in [Stream::Stored, Stream::Inflated] {
                    let chunk = std::mem::take(&mut pending[which as usize]);
                    if !chunk.is_empty() {
                        tx.send((which, chunk)).ok()?;
                    }
                }
                drop(tx);
                let (stored, inflated) = handle.take()?.join().ok()?;
                Some((hex(stored), hex(inflated)))
            }
        }
    }
}

struct State {
    hashers: Hashers,
    inflated_bytes: u64,
    limit_hit: bool,
}

struct Tap<R> {
    inner: R,
    state: Rc<RefCell<State>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state
            .borrow_mut()
            .hashers
            .update(Stream::Stored, &buf[..n]);
        Ok(n)
    }
}

struct Meter<R> {
    inner: R,
    state: Rc<RefCell<State>>,
    limit: u64,
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.inflated_bytes += n as u64;
        if s.inflated_bytes > self.limit {
            s.limit_hit = true;
            return Err(std::io::Error::other("inflated layer size limit exceeded"));
        }
        s.hashers.update(Stream::Inflated, &buf[..n]);
        Ok(n)
    }
}

/// Compression of a layer blob, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Zstd,
    None,
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

pub(crate) type TarStream<'a> = tar::Archive<Box<dyn Read + 'a>>;

/// A layer being read.
pub(crate) struct LayerStream {
    state: Rc<RefCell<State>>,
    id: String,
    layer: LayerRef,
    limit: u64,
}

/// Opens a layer for streaming.
pub(crate) fn open_layer<'a>(
    source: &'a dyn ImageSource,
    layer: &LayerRef,
    limits: &Limits,
) -> Result<(TarStream<'a>, LayerStream), ImageError> {
    let raw = match &layer.locator {
        Locator::Blob(d) => source.open_blob(d)?,
        Locator::Path(p) => source.open_path(p)?,
    };
    let state = Rc::new(RefCell::new(State {
        hashers: Hashers::new(),
        inflated_bytes: 0,
        limit_hit: false,
    }));
    let mut buffered = BufReader::with_capacity(
        64 * 1024,
        Tap {
            inner: raw,
            state: state.clone(),
        },
    );
    let id = layer.id();
    let head = buffered
        .fill_buf()
        .map_err(|e| ImageError::io(format!("layer {id}"), e))?;
    let decoded: Box<dyn Read + 'a> = match sniff(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| ImageError::io(format!("layer {id}: zstd"), e))?,
        ),
        Compression::None => Box::new(buffered),
    };
    let metered: Box<dyn Read + 'a> = Box::new(Meter {
        inner: decoded,
        state: state.clone(),
        limit: limits.max_layer_bytes,
    });
    Ok((
        tar::Archive::new(metered),
        LayerStream {
            state,
            id,
            layer: layer.clone(),
            limit: limits.max_layer_bytes,
        },
    ))
}

impl LayerStream {
    /// The layer's report name.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Maps an error from the tar reader: a tripped size cap becomes
    /// [`ImageError::LimitExceeded`] naming the layer and the entry being read.
    pub(crate) fn error(&self, path: Option<&str>, e: std::io::Error) -> ImageError {
        if self.state.borrow().limit_hit {
            ImageError::LimitExceeded {
                layer: self.id.clone(),
                path: path.unwrap_or("(layer stream)").to_owned(),
                what: "inflated layer size",
                limit: self.limit,
            }
        } else {
            ImageError::invalid(
                format!("layer {}", self.id),
                match path {
                    Some(p) => format!("{p}: {e}"),
                    None => e.to_string(),
                },
            )
        }
    }

    /// Drains the rest of the stream and checks the digests.
    pub(crate) fn finish(self, stream: TarStream<'_>) -> Result<(), ImageError> {
        let mut rest = stream.into_inner();
        std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| self.error(None, e))?;
        drop(rest);
        let digests = self.state.borrow_mut().hashers.finish();
        let Some((stored, inflated)) = digests else {
            return Err(ImageError::invalid(
                format!("layer {}", self.id),
                "the sha256 hashing thread failed",
            ));
        };
        let check = |expected: &Option<super::Digest>, actual: String, what: &str| {
            if let Some(expected) = expected
                && actual != expected.as_str()
            {
                return Err(ImageError::DigestMismatch {
                    what: format!("layer {} ({what})", self.id),
                    expected: expected.to_string(),
                    actual,
                });
            }
            Ok(())
        };
        check(&self.layer.digest, stored, "blob")?;
        check(&self.layer.diff_id, inflated, "diff_id")?;
        Ok(())
    }
}
