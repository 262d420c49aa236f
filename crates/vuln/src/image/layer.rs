//! One layer as a verified, bounded tar stream.
//!
//! ```text
//! blob ─► StoredReader (256 KiB chunks ─► sha256 = digest) ─► gzip | zstd | plain
//!      ─► LayerReader (256 KiB chunks ─► sha256 = diff_id, cap, forward seek) ─► tar
//! ```
//! Both readers fill owned 256 KiB chunks and, once a chunk has been used, hand it to a
//! helper thread that hashes it and sends the buffer back for reuse: no byte is copied for
//! hashing, no buffer is allocated per chunk, and hashing overlaps decompression and
//! parsing instead of adding to it. [`LayerReader`] implements a forward-only `Seek`, so
//! the tar reader (`entries_with_seek`) skips the content of entries nobody reads without
//! copying it out; it is still inflated and hashed. [`LayerStream::finish`] drains what
//! the tar reader left (end-of-archive padding) so both hashes cover the whole blob, then
//! compares them with the layer's digest and diff id.

use std::cell::RefCell;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender};

use sha2::Digest as _;

use super::resolve::{LayerRef, Locator};
use super::{ImageError, ImageSource, Limits};

/// Which stream a chunk belongs to.
#[derive(Clone, Copy)]
enum Stream {
    Stored,
    Inflated,
}

/// Size of the chunks both streams are read in and hashed by.
const CHUNK: usize = 256 * 1024;

/// Chunks in flight to the hashing thread (bounds memory: about 4 MiB).
const IN_FLIGHT: usize = 16;

/// The two sha256 digests of a layer, computed on a helper thread that gets each chunk by
/// ownership and returns the buffer; inline when no thread can be started.
enum Hashers {
    Inline {
        stored: sha2::Sha256,
        inflated: sha2::Sha256,
        spare: Vec<Vec<u8>>,
    },
    Thread {
        tx: Option<SyncSender<(Stream, Vec<u8>)>>,
        back: Receiver<Vec<u8>>,
        handle: Option<std::thread::JoinHandle<(sha2::Sha256, sha2::Sha256)>>,
    },
}

impl Hashers {
    fn new() -> Hashers {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Stream, Vec<u8>)>(IN_FLIGHT);
        let (back_tx, back) = std::sync::mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("layer-sha256".into())
            .spawn(move || {
                let (mut stored, mut inflated) = (sha2::Sha256::new(), sha2::Sha256::new());
                for (which, chunk) in rx {
                    match which {
                        Stream::Stored => stored.update(&chunk),
                        Stream::Inflated => inflated.update(&chunk),
                    }
                    // The reader may be gone already; the buffer is then just freed.
                    let _ = back_tx.send(chunk);
                }
                (stored, inflated)
            });
        match spawned {
            Ok(handle) => Hashers::Thread {
                tx: Some(tx),
                back,
                handle: Some(handle),
            },
            Err(_) => Hashers::Inline {
                stored: sha2::Sha256::new(),
                inflated: sha2::Sha256::new(),
                spare: Vec::new(),
            },
        }
    }

    /// A buffer of [`CHUNK`] bytes to read into, reused when one came back (its old
    /// content is overwritten, so only a new buffer is zeroed).
    fn buffer(&mut self) -> Vec<u8> {
        let reused = match self {
            Hashers::Inline { spare, .. } => spare.pop(),
            Hashers::Thread { back, .. } => back.try_recv().ok(),
        };
        let mut b = reused.unwrap_or_default();
        b.resize(CHUNK, 0);
        b
    }

    /// Hashes a used chunk (which must not be touched afterwards).
    fn submit(&mut self, which: Stream, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        match self {
            Hashers::Inline {
                stored,
                inflated,
                spare,
            } => {
                match which {
                    Stream::Stored => stored.update(&chunk),
                    Stream::Inflated => inflated.update(&chunk),
                }
                spare.push(chunk);
            }
            Hashers::Thread { tx, .. } => {
                if let Some(tx) = tx {
                    // A send fails only if the hasher is gone; `finish` reports that.
                    let _ = tx.send((which, chunk));
                }
            }
        }
    }

    /// The final digests (`sha256:<hex>` of the stored and the inflated stream); `None` if
    /// the hashing thread died.
    fn finish(&mut self) -> Option<(String, String)> {
        let hex = |h: sha2::Sha256| format!("sha256:{}", hex::encode(h.finalize()));
        match self {
            Hashers::Inline {
                stored, inflated, ..
            } => Some((hex(stored.clone()), hex(inflated.clone()))),
            Hashers::Thread { tx, handle, .. } => {
                drop(tx.take()?);
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

/// The blob as a `BufRead` over owned chunks; every byte read from the blob is hashed.
struct StoredReader<R> {
    inner: R,
    chunk: Vec<u8>,
    pos: usize,
    state: Rc<RefCell<State>>,
}

impl<R: Read> StoredReader<R> {
    /// Hands the current chunk to the hasher and reads the next one.
    fn refill(&mut self) -> std::io::Result<()> {
        let mut st = self.state.borrow_mut();
        let next = st.hashers.buffer();
        let used = std::mem::replace(&mut self.chunk, next);
        st.hashers.submit(Stream::Stored, used);
        drop(st);
        self.pos = 0;
        let n = loop {
            match self.inner.read(&mut self.chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.chunk.clear();
                    return Err(e);
                }
            }
        };
        self.chunk.truncate(n);
        Ok(())
    }
}

impl<R> Drop for StoredReader<R> {
    /// What was read from the blob but not yet handed over (the last chunk) is hashed
    /// when the decoder is dropped, before [`LayerStream::finish`] asks for the digests.
    fn drop(&mut self) {
        let rest = std::mem::take(&mut self.chunk);
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.hashers.submit(Stream::Stored, rest);
        }
    }
}

impl<R: Read> Read for StoredReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for StoredReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.chunk.len() {
            self.refill()?;
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.len());
    }
}

/// The decompressed layer as the tar reader sees it: owned chunks hashed once used, the
/// inflated size cap, and a forward-only seek for skipping entry contents.
pub(crate) struct LayerReader<'a> {
    inner: Box<dyn Read + 'a>,
    chunk: Vec<u8>,
    pos: usize,
    /// Bytes handed out or skipped so far (the tar stream position).
    offset: u64,
    eof: bool,
    limit: u64,
    state: Rc<RefCell<State>>,
}

impl LayerReader<'_> {
    /// Hands the used chunk to the hasher and inflates the next one (empty at the end).
    fn refill(&mut self) -> std::io::Result<()> {
        let mut st = self.state.borrow_mut();
        let next = st.hashers.buffer();
        let used = std::mem::replace(&mut self.chunk, next);
        st.hashers.submit(Stream::Inflated, used);
        drop(st);
        self.pos = 0;
        let mut filled = 0;
        while filled < CHUNK {
            match self.inner.read(&mut self.chunk[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.chunk.clear();
                    return Err(e);
                }
            }
        }
        self.chunk.truncate(filled);
        let mut st = self.state.borrow_mut();
        st.inflated_bytes += filled as u64;
        if st.inflated_bytes > self.limit {
            st.limit_hit = true;
            self.chunk.clear();
            return Err(std::io::Error::other("inflated layer size limit exceeded"));
        }
        Ok(())
    }

    /// The unread part of the current chunk, refilled when used up; empty at the end.
    fn available(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.chunk.len() && !self.eof {
            self.refill()?;
        }
        Ok(&self.chunk[self.pos..])
    }

    /// Inflates and hashes the rest of the stream, the last chunk included.
    fn drain(&mut self) -> std::io::Result<()> {
        while !self.eof {
            self.refill()?;
        }
        let last = std::mem::take(&mut self.chunk);
        self.pos = 0;
        self.state
            .borrow_mut()
            .hashers
            .submit(Stream::Inflated, last);
        Ok(())
    }
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.available()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        self.offset += n as u64;
        Ok(n)
    }
}

impl Seek for LayerReader<'_> {
    /// Forward only (`Current(n)` with `n >= 0`, or `Start` at or after the position):
    /// the skipped bytes are inflated and hashed, never copied out.
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Current(n) if n >= 0 => self.offset.checked_add(n.unsigned_abs()),
            SeekFrom::Start(p) if p >= self.offset => Some(p),
            _ => None,
        }
        .ok_or_else(|| std::io::Error::other("layer stream: backward seek"))?;
        while self.offset < target {
            let avail = self.available()?.len();
            if avail == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "layer stream ends inside an entry",
                ));
            }
            let step = usize::try_from(target - self.offset).map_or(avail, |d| d.min(avail));
            self.pos += step;
            self.offset += step as u64;
        }
        Ok(self.offset)
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

pub(crate) type TarStream<'a> = tar::Archive<LayerReader<'a>>;

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
    let mut buffered = StoredReader {
        inner: raw,
        chunk: Vec::new(),
        pos: 0,
        state: state.clone(),
    };
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
    let metered = LayerReader {
        inner: decoded,
        chunk: Vec::new(),
        pos: 0,
        offset: 0,
        eof: false,
        limit: limits.max_layer_bytes,
        state: state.clone(),
    };
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
        rest.drain().map_err(|e| self.error(None, e))?;
        // Dropping the decoder hashes the blob's last chunk.
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
