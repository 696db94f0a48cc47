//! Folders chosen by the file's extension once the server has named the file. A `[[rule]]`
//! with `ext` and `dir` whose extension the URL could not decide (`/download?id=3`, answered
//! with `Content-Disposition: filename="x.iso"`) reaches the engine as one entry of a small
//! ordered table; when the answer names the file, the first entry whose extension the name has
//! gives the folder, before the `.part` is created. Only the folder is decided so late: the
//! request's headers are already sent. Pure; depends on nothing else in the engine.

use std::path::{Path, PathBuf};

/// One rule's extensions (lower case, without the dot) and the folder (absolute) they choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderByExt {
    pub exts: Vec<String>,
    pub dir: PathBuf,
}

/// Whether `name` ends in `.EXT` (any case) with something before the dot: `a.iso` has `iso`,
/// `x.tar.gz` has `tar.gz` and `gz`, `.iso` alone has none. `ext` is lower case.
pub fn has_ext(name: &str, ext: &str) -> bool {
    let name = name.to_lowercase();
    name.strip_suffix(ext).is_some_and(|s| s.len() > 1 && s.ends_with('.'))
}

/// The folder of the first entry whose extensions `name` has.
pub fn folder_for<'a>(table: &'a [FolderByExt], name: &str) -> Option<&'a Path> {
    table.iter().find(|f| f.exts.iter().any(|e| has_ext(name, e))).map(|f| f.dir.as_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_entry_with_the_names_extension_gives_the_folder() {
        let entry = |exts: &[&str], dir: &str| FolderByExt {
            exts: exts.iter().map(|e| e.to_string()).collect(),
            dir: dir.into(),
        };
        let table =
            [entry(&["iso", "img"], "/dl/images"), entry(&["tar.gz"], "/dl/src"), entry(&["gz"], "/dl/gz")];
        assert_eq!(folder_for(&table, "Debian.ISO"), Some(Path::new("/dl/images")));
        assert_eq!(folder_for(&table, "linux.tar.gz"), Some(Path::new("/dl/src")));
        assert_eq!(folder_for(&table, "notes.gz"), Some(Path::new("/dl/gz")));
        assert_eq!(folder_for(&table, ".iso"), None, "a dot file has no extension");
        assert_eq!(folder_for(&table, "iso"), None);
        assert_eq!(folder_for(&table, "a.zip"), None);
        assert!(!has_ext("a.xiso", "iso"));
    }
}
