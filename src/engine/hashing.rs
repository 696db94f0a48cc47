//! Hashing a download's bytes to check them against an expected checksum: incrementally as a
//! single stream writes them, and by reading a `.part` back (the prefix a resumed download
//! already had, a segmented file's contiguous prefix as it grows and the rest once complete). Never assumes: a resumed download's hash is
//! rebuilt from the bytes on disk. Blocking functions but `PrefixHasher`'s, which hands reads
//! to tokio's blocking pool; depends on the RustCrypto hashes, std, tokio, and the engine's
//! checksum vocabulary, sidecar (opening without following symlinks) and error type.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::checksum::{Algo, ExpectedChecksum, to_hex};
use super::error::DownloadError;

/// Read size when hashing a file back: large enough that syscalls cost nothing next to the hash.
const READ_CHUNK: usize = 1 << 20;

#[derive(Clone)]
enum State {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// An expected checksum with the hash of the file's first `at` bytes.
#[derive(Clone)]
pub struct Hashing {
    pub expected: ExpectedChecksum,
    state: State,
    /// The bytes `[0, at)` of the file went through the hash.
    at: u64,
}

impl std::fmt::Debug for Hashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hashing({}, at {})", self.expected, self.at)
    }
}

/// The result of a check that ran to the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub expected: ExpectedChecksum,
    /// Lower-case hex of the file's digest.
    pub actual: String,
}

impl Checked {
    pub fn matches(&self) -> bool {
        self.actual == self.expected.hex()
    }

    /// The error that keeps a mismatching file from its final name.
    pub fn mismatch(&self, part: &Path) -> DownloadError {
        DownloadError::ChecksumMismatch {
            path: part.to_path_buf(),
            algo: self.expected.algo,
            expected: self.expected.hex(),
            actual: self.actual.clone(),
            from: self.expected.source.as_str(),
        }
    }
}

impl Hashing {
    /// A hash of nothing yet.
    pub fn new(expected: ExpectedChecksum) -> Self {
        let state = match expected.algo {
            Algo::Md5 => State::Md5(md5::Md5::new()),
            Algo::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algo::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => State::Sha512(sha2::Sha512::new()),
        };
        Self { expected, state, at: 0 }
    }

    /// Bytes hashed so far (the file's prefix `[0, at)`).
    pub fn at(&self) -> u64 {
        self.at
    }

    /// Hashes the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Md5(h) => h.update(bytes),
            State::Sha1(h) => h.update(bytes),
            State::Sha256(h) => h.update(bytes),
            State::Sha512(h) => h.update(bytes),
        }
        self.at += bytes.len() as u64;
    }

    /// Reads `file` from `at` up to `to` through the hash (a resumed download's prefix, the
    /// rest of a segmented file). Leaves the file position at `to`; the caller seeks if it
    /// wants another.
    pub fn catch_up(&mut self, file: &mut File, to: u64) -> io::Result<()> {
        if self.at >= to {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.at))?;
        let mut buf = vec![0u8; READ_CHUNK];
        while self.at < to {
            let want = usize::try_from(to - self.at).unwrap_or(usize::MAX).min(READ_CHUNK);
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file is shorter than its bytes",
                ));
            }
            self.update(&buf[..n]);
        }
        Ok(())
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Checked {
        let actual = match self.state {
            State::Md5(h) => to_hex(&h.finalize()),
            State::Sha1(h) => to_hex(&h.finalize()),
            State::Sha256(h) => to_hex(&h.finalize()),
            State::Sha512(h) => to_hex(&h.finalize()),
        };
        Checked { expected: self.expected, actual }
    }
}

/// Hashes a single stream's bytes on a blocking thread of its own, fed the batches the writer
/// writes (shared, not copied), so hashing runs beside writing and receiving instead of after
/// each write. A continued `.part`'s bytes before the first batch are read back first.
pub struct StreamHasher {
    /// Until the first batch: the file and the hash of nothing.
    idle: Option<(PathBuf, Hashing)>,
    /// Then: where batches go, and the thread that hashes them.
    running: Option<(mpsc::Sender<Vec<Bytes>>, HashWorker)>,
}

/// The thread hashing a stream's batches; it yields the hash once the batches end.
type HashWorker = JoinHandle<io::Result<Hashing>>;

/// Batches waiting for the hash (of up to 256 KiB each): memory stays flat, and a hash slower
/// than the network slows the download rather than piling bytes up.
const STREAM_QUEUE: usize = 8;

impl StreamHasher {
    pub fn new(part: PathBuf, expected: ExpectedChecksum) -> Self {
        Self { idle: Some((part, Hashing::new(expected))), running: None }
    }

    /// Hashes `batch`, the bytes of the file that end at offset `end`.
    pub async fn feed(&mut self, batch: &[Bytes], end: u64) {
        if let Some((part, mut hashing)) = self.idle.take() {
            let first = end - batch.iter().map(|b| b.len() as u64).sum::<u64>();
            let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(STREAM_QUEUE);
            let worker = tokio::task::spawn_blocking(move || {
                // A fresh file may not exist yet (the first write opens it): nothing to read then.
                if hashing.at() < first {
                    hashing.catch_up(&mut open_read(&part)?, first)?;
                }
                while let Some(batch) = rx.blocking_recv() {
                    batch.iter().for_each(|b| hashing.update(b));
                }
                Ok(hashing)
            });
            self.running = Some((tx, worker));
        }
        if let Some((tx, _)) = &self.running {
            // A worker that stopped (a failed read) reports it in `finish`.
            let _ = tx.send(batch.to_vec()).await;
        }
    }

    /// Hashes the last batch (ending at `end`) and gives the file's digest.
    pub async fn finish(mut self, batch: &[Bytes], end: u64) -> io::Result<Checked> {
        self.feed(batch, end).await;
        let Some((tx, worker)) = self.running else { return Err(io::Error::other("nothing was hashed")) };
        drop(tx);
        match worker.await {
            Ok(hashed) => hashed.map(Hashing::finish),
            Err(e) => Err(io::Error::other(format!("checksum worker: {e}"))),
        }
    }
}

/// Hashes a segmented `.part`'s contiguous prefix on the blocking pool as it grows (ranges
/// already on disk from an earlier run included), so that once the last range lands only the
/// rest is left to read back. One read in flight at a time.
pub struct PrefixHasher {
    part: PathBuf,
    expected: ExpectedChecksum,
    idle: Option<Hashing>,
    busy: Option<JoinHandle<io::Result<Hashing>>>,
}

/// Worth a trip to the blocking pool.
const PREFIX_STEP: u64 = 8 << 20;

impl PrefixHasher {
    pub fn new(part: PathBuf, expected: Option<ExpectedChecksum>) -> Option<Self> {
        let expected = expected?;
        Some(Self { part, idle: Some(Hashing::new(expected.clone())), expected, busy: None })
    }

    /// The first `prefix` bytes of the file are written: hash up to there in the background.
    pub async fn advance(&mut self, prefix: u64) {
        if self.busy.as_ref().is_some_and(JoinHandle::is_finished) {
            self.collect().await;
        }
        let Some(hashing) = self.idle.take_if(|h| prefix >= h.at() + PREFIX_STEP) else { return };
        let part = self.part.clone();
        self.busy = Some(tokio::task::spawn_blocking(move || {
            let mut hashing = hashing;
            hashing.catch_up(&mut open_read(&part)?, prefix)?;
            Ok(hashing)
        }));
    }

    async fn collect(&mut self) {
        if let Some(busy) = self.busy.take() {
            // A read that failed is started again from the first byte by the final check.
            self.idle = Some(match busy.await {
                Ok(Ok(hashing)) => hashing,
                _ => Hashing::new(self.expected.clone()),
            });
        }
    }

    /// The hash of the prefix read so far, once no read is in flight.
    pub async fn finish(mut self) -> Hashing {
        self.collect().await;
        self.idle.unwrap_or_else(|| Hashing::new(self.expected))
    }
}

/// Hashes the rest of a complete file at `path` after `hashing`'s prefix. Blocking.
pub fn check_rest(path: &Path, mut hashing: Hashing) -> Result<Checked, DownloadError> {
    let fail = |e| DownloadError::io(path, e);
    let mut file = open_read(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    hashing.catch_up(&mut file, len).map_err(fail)?;
    Ok(hashing.finish())
}

/// Opens a `.part` to read it back, not following a symlink planted in its place.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(super::sidecar::NOFOLLOW).open(path)
}

/// Hashes the whole file at `path` (a `.part` whose bytes are all there, or an existing
/// complete file). Blocking.
pub fn check_file(path: &Path, expected: ExpectedChecksum) -> Result<Checked, DownloadError> {
    check_rest(path, Hashing::new(expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::checksum::ChecksumSource;

    fn expected(algo: Algo, hex: &str) -> ExpectedChecksum {
        ExpectedChecksum::from_hex(algo, hex, ChecksumSource::User).unwrap()
    }

    #[test]
    fn known_digests_of_abc() {
        for (algo, hex) in [
            (Algo::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (Algo::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (Algo::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                Algo::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ] {
            let mut h = Hashing::new(expected(algo, hex));
            h.update(b"a");
            h.update(b"bc");
            assert!(h.finish().matches(), "{algo}");
        }
    }

    #[test]
    fn a_file_read_back_from_an_offset_hashes_like_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &body).unwrap();
        let mut whole = Hashing::new(expected(Algo::Sha256, &"00".repeat(32)));
        whole.update(&body);
        let want = whole.finish().actual;
        let mut h = Hashing::new(expected(Algo::Sha256, &want));
        h.update(&body[..1000]);
        let mut file = File::open(&path).unwrap();
        h.catch_up(&mut file, body.len() as u64).unwrap();
        assert!(h.finish().matches());
        assert!(check_file(&path, expected(Algo::Sha256, &want)).unwrap().matches());
        let wrong = check_file(&path, expected(Algo::Sha256, &"ab".repeat(32))).unwrap();
        assert!(!wrong.matches());
        assert!(wrong.mismatch(&path).to_string().contains(&want));
    }

    #[tokio::test]
    async fn the_prefix_hash_reads_ahead_as_the_file_fills_and_the_rest_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.part");
        let body: Vec<u8> = (0..(20u32 << 20)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &body).unwrap();
        let mut whole = Hashing::new(expected(Algo::Sha256, &"00".repeat(32)));
        whole.update(&body);
        let want = expected(Algo::Sha256, &whole.finish().actual);
        let mut prefix = PrefixHasher::new(path.clone(), Some(want)).unwrap();
        for written in [1 << 20, 9 << 20, 12 << 20, 19 << 20] {
            prefix.advance(written).await;
        }
        let hashing = prefix.finish().await;
        assert!(hashing.at() >= 9 << 20 && hashing.at() < 20 << 20, "read ahead to {}", hashing.at());
        assert!(check_rest(&path, hashing).unwrap().matches());
        assert!(PrefixHasher::new(path, None).is_none(), "nothing to check, nothing read");
    }
}
