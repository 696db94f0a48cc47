//! File names handed out to downloads that have not finished yet, so two items resolving to
//! the same name get two files even before either exists on disk, and no name is taken that
//! already exists there.
//!
//! Two thousand URLs named `same.bin` must not cost two million checks: each name remembers
//! the lowest number that may still be free (`same (1734).bin` next), so finding one is
//! linear in the number of items. And the lock is never held across a filesystem call: a
//! candidate is first held in memory (so no other download can pick it), then checked on
//! disk without the lock, and let go again if something is there. Checking the disk blocks:
//! async code calls `reserve_unique_async`. Depends on std, tokio and `naming`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::naming::{numbered, part_path, sidecar_path};

/// How many `name (n)` alternatives to try before giving up.
const MAX_ALTERNATIVES: u32 = 9999;

/// What is on disk, as far as naming cares. The real one asks the filesystem; tests count the
/// questions and check that no lock is held while one is asked.
pub trait Occupancy: Send + Sync + 'static {
    /// Whether anything (a file, folder or symlink, even a dangling one) is at `path`.
    fn exists(&self, path: &Path) -> bool;
}

/// The real filesystem.
#[derive(Debug, Default)]
pub struct Disk;

impl Occupancy for Disk {
    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }
}

impl<T: Occupancy> Occupancy for Arc<T> {
    fn exists(&self, path: &Path) -> bool {
        T::exists(self, path)
    }
}

#[derive(Debug, Default)]
pub struct NameReservations<D: Occupancy = Disk> {
    state: Mutex<Taken>,
    disk: D,
}

/// A name as asked for (`dir/same.bin`): the family its numbered alternatives belong to.
type Family = Arc<Path>;

#[derive(Debug, Default)]
struct Taken {
    /// Every path held by a download, with its family and number when `reserve_unique`
    /// numbered it (`None` for `reserve_exact`).
    held: HashMap<PathBuf, Option<(Family, u32)>>,
    /// Per family, the lowest number not known to be unavailable: every lower one was held or
    /// on disk when last looked at, and a release lowers it again. A hint only (a concurrent
    /// release may be missed, and then a higher free number is picked); absent means 0.
    next: HashMap<Family, u32>,
}

/// Whether `path` is held by another download, as its final name or as one of the files it
/// writes on the way (`NAME.part`, the sidecar `NAME.part.dlm` and its temp file): an item
/// named `x.part` must not share a file with the item named `x`, or the second to write
/// would truncate or replace the first one's finished file.
fn clashes(held: &HashMap<PathBuf, Option<(Family, u32)>>, path: &Path) -> bool {
    /// Differences between the suffixes of those files ("", ".part", ".part.dlm",
    /// ".part.dlm.tmp"), taken pairwise.
    const GAPS: [&str; 6] = [".part", ".part.dlm", ".part.dlm.tmp", ".dlm", ".dlm.tmp", ".tmp"];
    if held.contains_key(path) {
        return true;
    }
    let Some(text) = path.to_str() else { return false };
    GAPS.iter().any(|gap| {
        held.contains_key(Path::new(&format!("{text}{gap}")))
            || text.strip_suffix(gap).is_some_and(|stem| held.contains_key(Path::new(stem)))
    })
}

fn candidate(dir: &Path, name: &str, n: u32) -> PathBuf {
    if n == 0 { dir.join(name) } else { dir.join(numbered(name, n)) }
}

impl<D: Occupancy> NameReservations<D> {
    pub fn with_disk(disk: D) -> Self {
        Self { state: Mutex::default(), disk }
    }

    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nothing on disk would be overwritten or adopted by writing `path`: neither it, its
    /// `.part`, nor a sidecar (which would be replaced and then deleted).
    fn free_on_disk(&self, path: &Path) -> bool {
        !self.disk.exists(path)
            && !self.disk.exists(&part_path(path))
            && !self.disk.exists(&sidecar_path(path))
    }

    /// Reserves the first free name among `name`, `name (1)`, … in `dir` (starting from the
    /// name's hint). A name is free when neither it nor its `.part` (nor `.part.dlm`) exists
    /// on disk and no other download holds it or a name whose files would overlap its own.
    /// Blocking: it asks the filesystem.
    pub fn reserve_unique(&self, dir: &Path, name: &str) -> Option<PathBuf> {
        let family: Family = Arc::from(dir.join(name));
        let mut n = self.lock().next.get(&family).copied().unwrap_or(0);
        loop {
            // In memory, under the lock: the first number from `n` nobody holds; hold it.
            let path = {
                let mut taken = self.lock();
                loop {
                    if n > MAX_ALTERNATIVES {
                        return None;
                    }
                    let path = candidate(dir, name, n);
                    if !clashes(&taken.held, &path) {
                        taken.held.insert(path.clone(), Some((Arc::clone(&family), n)));
                        break path;
                    }
                    n += 1;
                }
            };
            // On disk, without the lock: others may pick other numbers meanwhile.
            let free = self.free_on_disk(&path);
            let mut taken = self.lock();
            if free {
                if n > 0 {
                    let next = taken.next.entry(family).or_insert(0);
                    *next = (*next).max(n + 1);
                }
                return Some(path);
            }
            taken.held.remove(&path);
            n += 1;
        }
    }

    /// Reserves exactly `path` (continuing a known `.part`). False if another download holds it.
    pub fn reserve_exact(&self, path: &Path) -> bool {
        let mut taken = self.lock();
        if clashes(&taken.held, path) {
            return false;
        }
        taken.held.insert(path.to_path_buf(), None);
        true
    }

    /// Lets `path` go; its number becomes the first one its name tries again.
    pub fn release(&self, path: &Path) {
        let mut taken = self.lock();
        let Some(Some((family, n))) = taken.held.remove(path) else { return };
        if let Some(next) = taken.next.get_mut(&family) {
            *next = (*next).min(n);
            if *next == 0 {
                taken.next.remove(&family);
            }
        }
    }

    /// `reserve_unique` on the blocking pool, so a folder with thousands of `name (n)` files
    /// never stalls the async threads.
    pub async fn reserve_unique_async(self: &Arc<Self>, dir: &Path, name: &str) -> Option<PathBuf> {
        let (names, dir, name) = (Arc::clone(self), dir.to_path_buf(), name.to_string());
        tokio::task::spawn_blocking(move || names.reserve_unique(&dir, &name)).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{OnceLock, Weak};

    use super::*;

    #[test]
    fn reservations_give_distinct_names_and_respect_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), b"old").unwrap();
        std::fs::write(dir.path().join("f (2).txt.part"), b"partial").unwrap();
        let names = NameReservations::<Disk>::default();
        let a = names.reserve_unique(dir.path(), "f.txt").unwrap();
        let b = names.reserve_unique(dir.path(), "f.txt").unwrap();
        assert_eq!(a, dir.path().join("f (1).txt"));
        assert_eq!(b, dir.path().join("f (3).txt"));
        names.release(&a);
        assert_eq!(names.reserve_unique(dir.path(), "f.txt").unwrap(), a);
        // A name that is another reservation's `.part`, or whose `.part` is one, is taken.
        names.reserve_unique(dir.path(), "g.txt").unwrap();
        let part = names.reserve_unique(dir.path(), "g.txt.part").unwrap();
        assert_eq!(part, dir.path().join("g.txt (1).part"));
        let x_part = names.reserve_unique(dir.path(), "x.part").unwrap();
        assert_eq!(x_part, dir.path().join("x.part"));
        assert_eq!(names.reserve_unique(dir.path(), "x").unwrap(), dir.path().join("x (1)"));
        assert!(!names.reserve_exact(&dir.path().join("x")));
        // Nor may one item's name be another's sidecar.
        names.reserve_unique(dir.path(), "s.iso").unwrap();
        let sidecar = names.reserve_unique(dir.path(), "s.iso.part.dlm").unwrap();
        assert_eq!(sidecar, dir.path().join("s.iso.part (1).dlm"));
        // A lone sidecar on disk (not ours to replace or delete) makes its name taken too.
        std::fs::write(dir.path().join("lone.part.dlm"), b"{}").unwrap();
        assert_eq!(names.reserve_unique(dir.path(), "lone").unwrap(), dir.path().join("lone (1)"));
    }

    /// A disk that holds the given paths, counts the questions, and notes any asked while the
    /// reservations' lock is held.
    #[derive(Default)]
    struct Watched {
        files: Mutex<HashSet<PathBuf>>,
        questions: AtomicUsize,
        asked_under_lock: AtomicUsize,
        names: OnceLock<Weak<NameReservations<Arc<Watched>>>>,
    }

    impl Occupancy for Watched {
        fn exists(&self, path: &Path) -> bool {
            self.questions.fetch_add(1, Ordering::Relaxed);
            if let Some(names) = self.names.get().and_then(Weak::upgrade)
                && names.state.try_lock().is_err()
            {
                self.asked_under_lock.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::yield_now();
            self.files.lock().unwrap().contains(path)
        }
    }

    fn watched(
        files: impl IntoIterator<Item = PathBuf>,
    ) -> (Arc<Watched>, Arc<NameReservations<Arc<Watched>>>) {
        let disk = Arc::new(Watched { files: Mutex::new(files.into_iter().collect()), ..Watched::default() });
        let names = Arc::new(NameReservations::with_disk(Arc::clone(&disk)));
        disk.names.set(Arc::downgrade(&names)).ok().unwrap();
        (disk, names)
    }

    /// Issue 9: 2,000 URLs named `same.bin` in a folder already holding 2,000 of them (an
    /// earlier run) used to make 2,000 × 2,000 checks, all under the lock.
    #[test]
    fn two_thousand_same_names_take_linear_checks_never_under_the_lock() {
        let dir = Path::new("/downloads");
        let (disk, names) = watched((0..2000).map(|n| candidate(dir, "same.bin", n)));
        let mut got = HashSet::new();
        for _ in 0..2000 {
            let path = names.reserve_unique(dir, "same.bin").unwrap();
            assert!(!disk.files.lock().unwrap().contains(&path), "{} is on disk", path.display());
            assert!(got.insert(path), "a name was given twice");
        }
        let questions = disk.questions.load(Ordering::Relaxed);
        // Finding the first free number passes the 2,000 on disk once; each later name takes
        // three questions (the name, its .part and its sidecar).
        assert!(questions <= 2000 + 3 * 2000 + 10, "{questions} questions to the disk");
        assert_eq!(disk.asked_under_lock.load(Ordering::Relaxed), 0, "the disk was asked under the lock");
    }

    #[test]
    fn threads_reserving_the_same_name_at_once_get_distinct_names() {
        let dir = Path::new("/downloads");
        let (disk, names) = watched((0..50).map(|n| candidate(dir, "same.bin", n * 3)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let names = Arc::clone(&names);
                std::thread::spawn(move || {
                    (0..250).map(|_| names.reserve_unique(dir, "same.bin").unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let all: Vec<PathBuf> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let distinct: HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), 2000, "every reservation got its own name");
        assert!(all.iter().all(|p| !disk.files.lock().unwrap().contains(p)), "none is on disk");
    }

    #[test]
    fn a_released_number_is_offered_again_and_the_hint_only_skips_what_is_taken() {
        let dir = Path::new("/downloads");
        let (_disk, names) = watched([candidate(dir, "a.bin", 0)]);
        let first: Vec<_> = (0..5).map(|_| names.reserve_unique(dir, "a.bin").unwrap()).collect();
        assert_eq!(first[0], candidate(dir, "a.bin", 1));
        assert_eq!(first[4], candidate(dir, "a.bin", 5));
        names.release(&first[1]);
        assert_eq!(names.reserve_unique(dir, "a.bin").unwrap(), candidate(dir, "a.bin", 2));
        assert_eq!(names.reserve_unique(dir, "a.bin").unwrap(), candidate(dir, "a.bin", 6));
        // Another name in the same folder is not affected by this one's hint.
        assert_eq!(names.reserve_unique(dir, "b.bin").unwrap(), candidate(dir, "b.bin", 0));
    }
}
