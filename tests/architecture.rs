//! Keeps the agreed shape, read from the source: the engine knows nothing of the screen or of
//! any front end; the session layer (session, saved queue, control socket) no UI and no front
//! end, and the saved queue and the socket not the session; front ends use the engine only
//! through what its root exports and never start or hold the `Engine` themselves (they go
//! through the session); no two modules import each other, and the engine's imports have no
//! cycle at all; engine source files stay small.
//!
//! Imports are read with a small parser of `use` trees and paths (`crate::…`, `super::…`,
//! `self::…`, `child::…`, `dlm::…`), in the code before a file's `#[cfg(test)]` and outside
//! `//` comments. A name a module re-exports (`pub use child::Item`) counts as its source
//! module's, and such a re-export is the module's public face, not a use of the child.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Reading the source

/// A source file as a module: its path in the crate (`engine::transfer`; the crate root is
/// empty) and its code (before `#[cfg(test)]`, without `//` comments).
struct Module {
    name: String,
    file: PathBuf,
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file that rules apply to: before its unit tests, without comments.
fn code_of(text: &str) -> String {
    let before_tests = text.lines().take_while(|l| l.trim() != "#[cfg(test)]");
    before_tests.map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Every file of the library crate (`main.rs` is another crate, and is read on its own).
fn library() -> Vec<Module> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            Module {
                name: module_name(&file.strip_prefix(&root).unwrap().to_string_lossy()),
                file,
                code: code_of(&text),
            }
        })
        .collect()
}

/// `engine/transfer.rs` → `engine::transfer`; `engine/mod.rs` → `engine`; `lib.rs` → ``.
fn module_name(relative: &str) -> String {
    let mut parts: Vec<&str> = relative.trim_end_matches(".rs").split('/').collect();
    if matches!(parts.last(), Some(&("mod" | "lib"))) {
        parts.pop();
    }
    parts.join("::")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other,
}

fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            if matches!(ident.as_str(), "r" | "br") && matches!(chars.get(i), Some('"' | '#')) {
                // A raw string, `r#"…"#`: skip to its closing quote and as many hashes.
                let hashes = chars[i..].iter().take_while(|c| **c == '#').count();
                let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                i += hashes + 1;
                while i < chars.len() && !chars[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                continue;
            }
            out.push(Token::Ident(ident));
            continue;
        }
        // Strings, characters and comments say nothing about imports.
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            // `'x'` and `'\n'` are characters; `'a` is a lifetime.
            i += match (chars.get(i + 1), chars.get(i + 2)) {
                (Some('\\'), _) => 2 + chars[i + 2..].iter().position(|c| *c == '\'').map_or(0, |p| p + 1),
                (_, Some('\'')) => 3,
                _ => 1,
            };
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !chars[i..].starts_with(&['*', '/']) {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::Path);
            i += 2;
            continue;
        }
        out.push(match c {
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            ';' => Token::Semi,
            '*' => Token::Star,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        });
        i += 1;
    }
    out
}

/// A path a module names: its segments, and whether it is a `pub use` re-export.
#[derive(Debug, Clone)]
struct Named {
    segments: Vec<String>,
    reexport: bool,
}

/// Flattens the use tree starting at `tokens[*i]` under `prefix` into full paths.
fn use_tree(tokens: &[Token], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*i) {
            Some(Token::Ident(id)) => {
                path.push(id.clone());
                *i += 1;
                if tokens.get(*i) == Some(&Token::Path) {
                    *i += 1;
                    continue;
                }
                if tokens.get(*i) == Some(&Token::Ident("as".into())) {
                    *i += 2; // `as` and the alias
                }
                break;
            }
            Some(Token::Open) => {
                *i += 1;
                while !matches!(tokens.get(*i), Some(Token::Close) | None) {
                    use_tree(tokens, i, &path, out);
                    if tokens.get(*i) == Some(&Token::Comma) {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            Some(Token::Star) => {
                *i += 1;
                break;
            }
            _ => break,
        }
    }
    // `use a::{self, b}` names `a` itself.
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    out.push(path);
}

/// Every path a module's code names: `use` trees, and paths written inline.
fn named_paths(code: &str) -> Vec<Named> {
    let tokens = tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Ident("use".into()) {
            let reexport = i > 0 && matches!(&tokens[i - 1], Token::Ident(p) if p == "pub");
            i += 1;
            let mut paths = Vec::new();
            use_tree(&tokens, &mut i, &[], &mut paths);
            out.extend(paths.into_iter().map(|segments| Named { segments, reexport }));
            continue;
        }
        // An inline path: `a::b::c`, not the tail of a longer one.
        if let Token::Ident(first) = &tokens[i]
            && tokens.get(i + 1) == Some(&Token::Path)
            && (i == 0 || tokens[i - 1] != Token::Path)
        {
            let mut segments = vec![first.clone()];
            let mut j = i + 1;
            while tokens.get(j) == Some(&Token::Path) {
                match tokens.get(j + 1) {
                    Some(Token::Ident(next)) => segments.push(next.clone()),
                    _ => break,
                }
                j += 2;
            }
            out.push(Named { segments, reexport: false });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The crate's modules and who imports whom.
struct Graph {
    modules: BTreeSet<String>,
    /// `(module, name)` → the child module a re-exported name comes from.
    reexports: HashMap<(String, String), String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn of(modules: &[(String, String)]) -> Self {
        let names: BTreeSet<String> = modules.iter().map(|(n, _)| n.clone()).collect();
        let mut graph = Graph { modules: names, reexports: HashMap::new(), edges: BTreeMap::new() };
        let named: Vec<(String, Vec<Named>)> =
            modules.iter().map(|(n, code)| (n.clone(), named_paths(code))).collect();
        for (module, paths) in &named {
            for path in paths.iter().filter(|p| p.reexport) {
                if let Some((source, _)) = graph.locate(module, &path.segments)
                    && source != *module
                    && let Some(item) = path.segments.last()
                {
                    graph.reexports.insert((module.clone(), item.clone()), source);
                }
            }
        }
        for (module, paths) in &named {
            for path in paths {
                let Some((target, from_child)) = graph.locate(module, &path.segments) else { continue };
                // A module's re-export of its child's items is its public face, not a use.
                if target == *module || (path.reexport && from_child) {
                    continue;
                }
                graph.edges.entry(module.clone()).or_default().insert(target);
            }
        }
        graph
    }

    /// The module a path in `module` leads to, following re-exports, and whether it is one of
    /// `module`'s descendants.
    fn locate(&self, module: &str, segments: &[String]) -> Option<(String, bool)> {
        let join =
            |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("::");
        let here: Vec<&str> = if module.is_empty() { vec![] } else { module.split("::").collect() };
        let (mut base, rest): (Vec<&str>, &[String]) = match segments.first().map(String::as_str) {
            Some("crate") => (vec![], &segments[1..]),
            Some("self") => (here.clone(), &segments[1..]),
            Some("super") => {
                let mut base = here.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            Some(first) if self.modules.contains(&join(&[module, first])) => (here.clone(), segments),
            _ => return None,
        };
        let mut found = None;
        for segment in rest {
            base.push(segment);
            let candidate = join(&base);
            if self.modules.contains(&candidate) {
                found = Some(candidate);
                continue;
            }
            // An item: a re-exported one belongs to the module it comes from.
            if let Some(found_module) = &found
                && let Some(source) = self.reexports.get(&(found_module.clone(), segment.clone()))
            {
                found = Some(source.clone());
            }
            break;
        }
        if found.is_none() && rest.is_empty() {
            found = Some(join(&base));
        }
        let target = found?;
        let descendant =
            !module.is_empty() && target.starts_with(&format!("{module}::")) || module.is_empty();
        Some((target, descendant))
    }

    fn imports(&self, from: &str, to: &str) -> bool {
        self.edges.get(from).is_some_and(|e| e.contains(to))
    }

    /// Pairs of modules that import each other.
    fn mutual(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (a, targets) in &self.edges {
            for b in targets {
                if a < b && self.imports(b, a) {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        pairs
    }

    /// A cycle among the modules `within` accepts, if there is one.
    fn cycle(&self, within: impl Fn(&str) -> bool) -> Option<Vec<String>> {
        fn visit(
            graph: &Graph,
            within: &dyn Fn(&str) -> bool,
            node: &str,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|p| p == node) {
                return Some(path[at..].to_vec());
            }
            if !done.insert(node.to_string()) {
                return None;
            }
            path.push(node.to_string());
            for next in graph.edges.get(node).into_iter().flatten().filter(|n| within(n)) {
                if let Some(cycle) = visit(graph, within, next, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        self.modules
            .iter()
            .filter(|m| within(m))
            .find_map(|m| visit(self, &within, m, &mut Vec::new(), &mut done))
    }
}

fn crate_graph() -> Graph {
    let modules: Vec<(String, String)> = library().into_iter().map(|m| (m.name, m.code)).collect();
    Graph::of(&modules)
}

fn in_engine(module: &str) -> bool {
    module == "engine" || module.starts_with("engine::")
}

/// Every path a file names, as `a::b::c` text.
fn paths_in(module: &Module) -> Vec<String> {
    named_paths(&module.code).into_iter().map(|n| n.segments.join("::")).collect()
}

/// The front ends' files: the TUI, `dlm get`, `dlm add`/`dlm ls`, and `main.rs`.
fn front_end_files() -> Vec<Module> {
    let mut front_ends: Vec<Module> = library().into_iter().filter(|m| is_front_end(&m.name)).collect();
    let main = src().join("main.rs");
    front_ends.push(Module {
        name: "main".into(),
        code: code_of(&std::fs::read_to_string(&main).unwrap()),
        file: main,
    });
    assert!(front_ends.len() > 3, "the front ends' files were not found");
    front_ends
}

// ---------------------------------------------------------------------------------------------
// The rules

#[test]
fn engine_has_no_ui_or_front_end_dependencies() {
    let modules = library();
    let engine: Vec<&Module> = modules.iter().filter(|m| in_engine(&m.name)).collect();
    assert!(engine.len() > 10, "the engine's files were not found");
    for module in engine {
        for path in paths_in(module) {
            let outside = path.starts_with("crate::") && !path.starts_with("crate::engine");
            let ui = path.starts_with("ratatui") || path.starts_with("crossterm");
            let above = module.name == "engine" && path.starts_with("super::");
            assert!(!(outside || ui || above), "{} uses {path}", module.file.display());
        }
    }
}

/// Whether `module` is `top` or inside it.
fn within(module: &str, top: &str) -> bool {
    module == top || module.strip_prefix(top).is_some_and(|rest| rest.starts_with("::"))
}

fn is_front_end(module: &str) -> bool {
    ["tui", "headless", "remote", "main"].iter().any(|top| within(module, top))
}

/// The session layer: the session, the saved queue (`state`) and the control socket.
#[test]
fn the_session_layer_uses_no_ui_and_no_front_end() {
    let modules = library();
    let layer: Vec<&Module> = modules
        .iter()
        .filter(|m| within(&m.name, "session") || within(&m.name, "state") || within(&m.name, "control"))
        .collect();
    assert!(layer.len() > 5, "the session layer's files were not found");
    let graph = crate_graph();
    for module in layer {
        for path in paths_in(module) {
            let ui = path.starts_with("ratatui") || path.starts_with("crossterm");
            assert!(!ui, "{} uses {path}", module.file.display());
        }
        for target in graph.edges.get(&module.name).into_iter().flatten() {
            assert!(!is_front_end(target), "{} imports the front end {target}", module.file.display());
        }
    }
}

/// Inside the session layer the direction is one way: the session uses the saved queue and
/// the control socket; neither of them uses the session, and the saved queue does not know
/// the socket (`dlm add` with no dlm running writes the queue without one).
#[test]
fn the_saved_queue_and_the_socket_do_not_import_the_session() {
    let graph = crate_graph();
    assert!(graph.imports("session::actor", "control"), "the reader sees the session's imports");
    for (from, target) in graph.edges.iter().flat_map(|(from, to)| to.iter().map(move |t| (from, t))) {
        let lower = within(from, "state") || within(from, "control");
        assert!(!(lower && within(target, "session")), "{from} imports the session ({target})");
        assert!(!(within(from, "state") && within(target, "control")), "{from} imports {target}");
    }
}

/// Whether a path names the engine itself or its handle (`crate::engine::Engine`,
/// `Engine::start`), not its vocabulary (`EngineEvent`) nor the session's
/// `SessionEvent::Engine` variant.
fn names_the_engine(path: &str) -> bool {
    let segments: Vec<&str> = path.split("::").collect();
    let engine = |s: &&str| matches!(*s, "Engine" | "EngineHandle");
    segments.first().is_some_and(engine) || segments.windows(2).any(|w| w[0] == "engine" && engine(&w[1]))
}

/// Front ends start and drive downloads through the session (`Session`, `SessionHandle`):
/// never the `Engine` or an `EngineHandle` themselves, so saving and the control socket
/// cannot be bypassed by one of them.
#[test]
fn front_ends_never_name_the_engine_or_its_handle() {
    assert!(names_the_engine("crate::engine::Engine") && names_the_engine("Engine::start"));
    assert!(names_the_engine("dlm::engine::EngineHandle"));
    assert!(!names_the_engine("crate::engine::EngineEvent") && !names_the_engine("SessionEvent::Engine"));
    for module in front_end_files() {
        for path in paths_in(&module) {
            assert!(
                !names_the_engine(&path),
                "{} uses {path}: go through the session",
                module.file.display()
            );
        }
    }
}

#[test]
fn front_ends_use_only_what_the_engine_root_exports() {
    let engine_modules: BTreeSet<String> = library()
        .into_iter()
        .filter_map(|m| m.name.strip_prefix("engine::").map(|n| n.split("::").next().unwrap().to_string()))
        .collect();
    for module in &front_end_files() {
        for path in paths_in(module) {
            let segments: Vec<&str> = path.split("::").collect();
            let Some(at) = segments.iter().position(|s| *s == "engine") else { continue };
            let inside = segments.get(at + 1).is_some_and(|next| engine_modules.contains(*next));
            assert!(!inside, "{} reaches into the engine: {path}", module.file.display());
        }
    }
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = crate_graph();
    assert_eq!(graph.mutual(), Vec::<(String, String)>::new());
}

#[test]
fn the_engine_modules_import_one_another_without_cycles() {
    let graph = crate_graph();
    // The reader sees what it must: the transfer's jobs, in the direction they are called.
    for (from, to) in [
        ("engine::transfer", "engine::segmented"),
        ("engine::transfer", "engine::single"),
        ("engine::transfer", "engine::answer"),
        ("engine::segmented", "engine::request"),
        ("engine::scheduler", "engine::transfer"),
        ("engine", "engine::scheduler"),
    ] {
        assert!(graph.imports(from, to), "{from} should be seen importing {to}: {:?}", graph.edges.get(from));
    }
    assert_eq!(graph.cycle(in_engine), None);
}

#[test]
fn engine_source_files_stay_under_600_lines_before_their_tests() {
    for module in library().iter().filter(|m| in_engine(&m.name)) {
        let lines = module.code.lines().count();
        assert!(lines < 600, "{} has {lines} lines before its tests: split it by job", module.file.display());
    }
}

#[test]
fn every_module_says_what_it_does() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("//!"), "{} has no //! module doc", file.display());
    }
}

/// The rules are only as good as the reader: it must find mutual imports, cycles and
/// re-exports in code written the ways this crate writes it.
#[test]
fn the_import_reader_finds_what_it_must() {
    let m = |name: &str, code: &str| (name.to_string(), code.to_string());
    let graph = Graph::of(&[
        m("", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        m("a", "use crate::b::{self, Thing as Other};\nfn f() { let s = \"crate::d::x\"; }"),
        m("b", "use super::{a::X, c};"),
        m(
            "c",
            "pub fn f() { crate::d::run(); } // not crate::e\nfn q(c: char) -> bool { c == '\"' || r#\"crate::e\"#.is_empty() }\nfn z() { crate::a::go(); }",
        ),
        m("d", "mod inner; pub use inner::Run;\nfn g() { c_helper(); super::c::f(); }"),
        m("d::inner", "use super::super::a::Y;"),
        m("e", "use crate::d::Run;"),
    ]);
    assert_eq!(graph.mutual(), vec![("a".to_string(), "b".to_string()), ("c".to_string(), "d".to_string())]);
    assert!(!graph.imports("a", "d"), "a string is not an import");
    assert!(!graph.imports("c", "e"), "nor a comment, a character or a raw string");
    assert!(graph.imports("c", "a"), "and what comes after them is still read");
    assert!(!graph.imports("d", "d::inner"), "a re-export is not a use");
    assert!(graph.imports("e", "d::inner"), "a re-exported name is its source's");
    assert!(graph.imports("d::inner", "a"));
    assert!(graph.cycle(|_| true).is_some());
    let acyclic = Graph::of(&[m("x", "use crate::y::Z;"), m("y", "use crate::z::W;"), m("z", "")]);
    assert_eq!(acyclic.cycle(|_| true), None);
    assert!(acyclic.imports("x", "y") && acyclic.imports("y", "z"));
}
