//! The control socket: how `dlm add` and `dlm ls` in another shell reach a running dlm. A
//! Unix socket in an owner-only folder, a peer-credential check, and line-delimited JSON
//! (one request per line, one reply per line). The server checks each request and hands it,
//! with a way to answer, to whoever runs it (the session); it never touches the engine or
//! the queue itself. A new request kind is a variant of `Request` and an arm where the
//! session answers. Depends on tokio, serde and `state` (the item record, the edits by id and
//! the private folder); never on the session or a front end.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::state::{Edit, EditAnswer, ItemRecord, STATE_DIR_ENV, create_private_dir};

mod add;

pub use add::{AddExtras, AddUrl, CurlText};
use add::{batches, is_false};

/// Overrides the folder the socket is created in.
pub const RUNTIME_DIR_ENV: &str = "DLM_RUNTIME_DIR";
pub const SOCKET_NAME: &str = "dlm.sock";
/// Longest request line. 1 MiB holds thousands of URLs; more is a mistake or an attack.
pub const MAX_LINE: usize = 1 << 20;
/// Most URLs in one `add`, and ids in one `pause`, `resume`, `remove` or `retry`.
pub const MAX_URLS: usize = 10_000;
/// Clients served at once; more are told to try again, so a flood cannot exhaust descriptors.
const MAX_CLIENTS: usize = 32;
/// A client that sends nothing for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client waits for a reply, and the server for the session's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the socket lives: `$DLM_RUNTIME_DIR`, else next to the state when `$DLM_STATE_DIR`
/// is set (so an isolated queue never talks to the person's real dlm), else
/// `$XDG_RUNTIME_DIR/dlm`, else the platform data folder.
pub fn socket_path() -> Option<PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = env(RUNTIME_DIR_ENV).or_else(|| env(STATE_DIR_ENV)).or_else(|| {
        let dirs = directories::ProjectDirs::from("", "", "dlm")?;
        Some(dirs.runtime_dir().unwrap_or(dirs.data_dir()).to_path_buf())
    })?;
    Some(dir.join(SOCKET_NAME))
}

/// A request line, e.g. `{"cmd":"add","urls":["https://…"],"dir":"/home/me/dl"}`,
/// `{"cmd":"ls"}`, `{"cmd":"pause","ids":[3,7]}` or `{"cmd":"refresh","id":3,"url":"https://…"}`.
///
/// `add` grew optional fields; a request without them means what it always meant, so an older
/// `dlm add` still works:
/// - a URL may be `{"url":"https://…","checksum":"sha256=HEX"}` instead of a plain string;
/// - `"dir_is_default":true` says `dir` is only the sender's default (its shell's folder, the
///   config's `download_dir`): a matched `[[rule]]`'s `dir` wins over it, never over a folder
///   chosen with `-o` (no flag);
/// - `"checksum_file":"/abs/SHA256SUMS"` (or an http(s) URL) checks every URL of the add
///   against that file, by the name each item gets;
/// - `"curl":"curl 'https://…' -H …"` adds one item from a "Copy as cURL" command, with its
///   headers, cookies and login (then `urls` is empty). Such a request holds secrets; the
///   socket is owner-only and nothing prints requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    Add {
        #[serde(default)]
        urls: Vec<AddUrl>,
        /// Absolute folder; `None` is the running dlm's download folder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "is_false")]
        dir_is_default: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checksum_file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        curl: Option<CurlText>,
    },
    Ls {},
    Pause {
        ids: Vec<u64>,
    },
    Resume {
        ids: Vec<u64>,
    },
    Remove {
        ids: Vec<u64>,
    },
    Retry {
        ids: Vec<u64>,
    },
    Refresh {
        id: u64,
        url: String,
    },
}

impl Request {
    pub fn add(urls: Vec<AddUrl>, dir: Option<PathBuf>, extras: AddExtras) -> Request {
        let AddExtras { dir_is_default, checksum_file, curl } = extras;
        Request::Add { urls, dir, dir_is_default, checksum_file, curl }
    }

    /// The request for `edit` on `ids` (`refresh` takes the first id).
    pub fn edit(edit: &Edit, ids: Vec<u64>) -> Request {
        match edit {
            Edit::Pause => Request::Pause { ids },
            Edit::Resume => Request::Resume { ids },
            Edit::Remove => Request::Remove { ids },
            Edit::Retry => Request::Retry { ids },
            Edit::Refresh(url) => {
                Request::Refresh { id: ids.first().copied().unwrap_or(0), url: url.clone() }
            }
        }
    }

    /// The change by id this request asks for, and the ids; `None` for `add` and `ls`.
    pub fn as_edit(&self) -> Option<(Edit, Vec<u64>)> {
        match self {
            Request::Add { .. } | Request::Ls {} => None,
            Request::Pause { ids } => Some((Edit::Pause, ids.clone())),
            Request::Resume { ids } => Some((Edit::Resume, ids.clone())),
            Request::Remove { ids } => Some((Edit::Remove, ids.clone())),
            Request::Retry { ids } => Some((Edit::Retry, ids.clone())),
            Request::Refresh { id, url } => Some((Edit::Refresh(url.clone()), vec![*id])),
        }
    }
}

/// A reply line: `{"ok":true,...}` or `{"ok":false,"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `add`: how many URLs were queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<usize>,
    /// For `ls`: every item, as `dlm ls --json` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemRecord>>,
    /// For `pause`, `resume`, `remove`, `retry` and `refresh`: what became of each id. The
    /// reply is `ok` even when some ids failed: each says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<EditAnswer>>,
}

impl Reply {
    pub fn error(message: impl Into<String>) -> Self {
        Self { ok: false, error: Some(message.into()), ..Self::default() }
    }

    pub fn added(count: usize) -> Self {
        Self { ok: true, added: Some(count), ..Self::default() }
    }

    pub fn items(items: Vec<ItemRecord>) -> Self {
        Self { ok: true, items: Some(items), ..Self::default() }
    }

    pub fn results(results: Vec<EditAnswer>) -> Self {
        Self { ok: true, results: Some(results), ..Self::default() }
    }
}

/// A checked request for the session to act on, and the way back to the client. `Add`'s URLs
/// are trimmed, there is at least one (or a curl command and none), at most `MAX_URLS`, and
/// `dir` and a checksum file's path are absolute; they are not checked as URLs: the engine
/// reports a bad one as a failed item, like a pasted one.
#[derive(Debug)]
pub struct ControlRequest {
    pub request: Request,
    reply: oneshot::Sender<Reply>,
}

impl ControlRequest {
    /// Sends the reply to the client (which may have left already).
    pub fn answer(self, reply: Reply) {
        let _ = self.reply.send(reply);
    }
}

/// A listening control socket. Dropping it stops nothing; call `shutdown`.
pub struct ControlServer {
    path: PathBuf,
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Binds the socket at `path` (folder created 0700, socket 0600) and starts serving on the
    /// current runtime; requests arrive on the returned channel. A leftover socket from a
    /// crashed dlm is replaced; one that still answers means another dlm is running, which is
    /// an error. Call it while holding the state lock, so two servers never race for the path.
    pub fn start(path: &Path) -> io::Result<(ControlServer, mpsc::Receiver<ControlRequest>)> {
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        if std::fs::symlink_metadata(path).is_ok() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another dlm is already listening on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        // The folder is already owner-only, so the moment between bind and chmod exposes
        // nothing; the mode is for anyone who later loosens the folder.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let owner = std::fs::metadata(path)?.uid();
        let (tx, rx) = mpsc::channel(64);
        let token = CancellationToken::new();
        let task = tokio::spawn(serve(listener, owner, tx, token.clone()));
        Ok((ControlServer { path: path.to_path_buf(), token, task }, rx))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, ends open connections and removes the socket file.
    pub async fn shutdown(self) {
        self.token.cancel();
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(
    listener: UnixListener,
    owner: u32,
    tx: mpsc::Sender<ControlRequest>,
    token: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut clients = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            a = listener.accept() => a,
            Some(_) = clients.join_next(), if !clients.is_empty() => continue,
        };
        let Ok((mut stream, _)) = accepted else {
            // Out of descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Another user cannot reach the socket through the 0700 folder; this check holds even
        // if someone loosens the folder or passes the descriptor on.
        let peer = stream.peer_cred().map(|c| c.uid());
        if peer.as_ref().map_or(true, |uid| *uid != owner) {
            let _ =
                write_reply(&mut stream, &Reply::error("refused: this dlm belongs to another user")).await;
            continue;
        }
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            let _ =
                write_reply(&mut stream, &Reply::error("dlm is busy with other clients; try again")).await;
            continue;
        };
        let (tx, token) = (tx.clone(), token.clone());
        clients.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = serve_client(stream, tx) => {}
            }
            drop(permit);
        });
    }
    clients.shutdown().await;
}

async fn serve_client(stream: UnixStream, tx: mpsc::Sender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = (MAX_LINE + 1) as u64;
        let read =
            tokio::time::timeout(IDLE_TIMEOUT, (&mut reader).take(limit).read_until(b'\n', &mut line)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => return,
        };
        if n == 0 {
            return;
        }
        if line.len() > MAX_LINE {
            // The rest of the line is still unread; there is no way to find the next request.
            let reply = Reply::error(format!("request too long (the limit is {MAX_LINE} bytes)"));
            let _ = write_reply(&mut write, &reply).await;
            return;
        }
        let reply = handle_line(&line, &tx).await;
        if write_reply(&mut write, &reply).await.is_err() {
            return;
        }
    }
}

async fn handle_line(line: &[u8], tx: &mpsc::Sender<ControlRequest>) -> Reply {
    let Ok(text) = std::str::from_utf8(line) else {
        return Reply::error("request is not UTF-8 text; send one JSON object per line");
    };
    let text = text.trim();
    if text.is_empty() {
        return Reply::error("empty request; send one JSON object per line, e.g. {\"cmd\":\"ls\"}");
    }
    let request = match serde_json::from_str::<Request>(text) {
        Ok(r) => r,
        Err(e) => {
            return Reply::error(format!(
                "malformed request ({e}); expected {{\"cmd\":\"add\",\"urls\":[…]}}, {{\"cmd\":\"ls\"}} or \
                 {{\"cmd\":\"pause\",\"ids\":[…]}} (also resume, remove, retry; refresh takes id and url)"
            ));
        }
    };
    let request = match check(request) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let (reply, answer) = oneshot::channel();
    if tx.send(ControlRequest { request, reply }).await.is_err() {
        return Reply::error("dlm is shutting down");
    }
    match tokio::time::timeout(REPLY_TIMEOUT, answer).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::error("dlm is shutting down"),
        Err(_) => Reply::error(format!("dlm did not answer within {REPLY_TIMEOUT:?}; try again")),
    }
}

/// Refuses what no session should see; tidies the rest.
fn check(request: Request) -> Result<Request, Reply> {
    match request {
        Request::Ls {} => Ok(Request::Ls {}),
        Request::Add { urls, dir, dir_is_default, checksum_file, curl } => {
            let urls: Vec<AddUrl> = urls
                .into_iter()
                .map(|u| AddUrl { url: u.url.trim().to_string(), ..u })
                .filter(|u| !u.url.is_empty())
                .collect();
            match (&curl, urls.is_empty()) {
                (None, true) => return Err(Reply::error("add: no URLs given")),
                (Some(_), false) => {
                    return Err(Reply::error("add: a curl command is one download; send it without urls"));
                }
                _ => {}
            }
            if urls.len() > MAX_URLS {
                return Err(Reply::error(format!("add: at most {MAX_URLS} URLs at once")));
            }
            if dir.as_ref().is_some_and(|d| !d.is_absolute()) {
                return Err(Reply::error("add: dir must be an absolute path"));
            }
            if let Some(file) = &checksum_file
                && !crate::engine::is_url(file)
                && !Path::new(file).is_absolute()
            {
                return Err(Reply::error("add: checksum_file must be an http(s) URL or an absolute path"));
            }
            Ok(Request::Add { urls, dir, dir_is_default, checksum_file, curl })
        }
        Request::Refresh { id, url } => {
            let url = url.trim().to_string();
            if url.is_empty() {
                return Err(Reply::error("refresh: no URL given"));
            }
            Ok(Request::Refresh { id, url })
        }
        other => {
            let count = other.as_edit().map_or(0, |(_, ids)| ids.len());
            if count == 0 {
                return Err(Reply::error("no item ids given"));
            }
            if count > MAX_URLS {
                return Err(Reply::error(format!("at most {MAX_URLS} ids at once")));
            }
            Ok(other)
        }
    }
}

async fn write_reply<W: AsyncWriteExt + Unpin>(w: &mut W, reply: &Reply) -> io::Result<()> {
    let mut body = serde_json::to_vec(reply).map_err(io::Error::other)?;
    body.push(b'\n');
    w.write_all(&body).await?;
    w.flush().await
}

/// Why a client request failed. Each message says what happened once: the variants carry
/// no `source`, so printing the error chain does not repeat the OS error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No dlm is listening (no socket, or a leftover one nobody answers).
    #[error("no running dlm at {0}")]
    NotRunning(PathBuf),
    #[error("{}", io_message(.0))]
    Io(io::Error),
    #[error("the running dlm did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the running dlm sent a reply this dlm does not understand: {0}")]
    BadReply(String),
    #[error("the running dlm refused: {0}")]
    Refused(String),
    /// A long list went in several requests and one failed: say how far it got.
    #[error("{error} (the first {added} URLs were added)")]
    Partly { added: usize, error: Box<ClientError> },
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => {
            format!("the running dlm closed the connection before answering ({e})")
        }
        _ => format!("talking to the running dlm failed: {e}"),
    }
}

/// A connection to a running dlm.
pub struct Client {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        match UnixStream::connect(path).await {
            Ok(stream) => {
                let (read, writer) = stream.into_split();
                Ok(Client { reader: BufReader::new(read), writer })
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                Err(ClientError::NotRunning(path.to_path_buf()))
            }
            Err(e) => Err(ClientError::Io(e)),
        }
    }

    /// Sends one request and reads its reply; an `ok: false` reply is `Refused`.
    pub async fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let mut body = serde_json::to_vec(request).map_err(io::Error::other)?;
        body.push(b'\n');
        let exchange = async {
            let sent = self.writer.write_all(&body).await;
            let mut line = String::new();
            // Replies to `ls` can be large; bound them anyway. A server that refused the
            // request (too long) answers before closing, so its reply is read even when the
            // write failed: it says why.
            let read = (&mut self.reader).take(256 << 20).read_line(&mut line).await;
            match (sent, read) {
                (_, Ok(n)) if n > 0 => Ok(line),
                (Err(e), _) | (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(_)) => Err(io::ErrorKind::UnexpectedEof.into()),
            }
        };
        let line = tokio::time::timeout(REPLY_TIMEOUT, exchange)
            .await
            .map_err(|_| ClientError::Timeout(REPLY_TIMEOUT))??;
        let reply: Reply = serde_json::from_str(&line).map_err(|e| ClientError::BadReply(e.to_string()))?;
        if !reply.ok {
            return Err(ClientError::Refused(reply.error.unwrap_or_else(|| "no reason given".into())));
        }
        Ok(reply)
    }

    /// Adds URLs, in as many requests as their number and length need; returns how many the
    /// running dlm queued. A curl command in `extras` goes alone, with no URLs.
    pub async fn add(
        &mut self,
        urls: Vec<AddUrl>,
        dir: Option<PathBuf>,
        extras: AddExtras,
    ) -> Result<usize, ClientError> {
        if extras.curl.is_some() {
            let reply = self.request(&Request::add(Vec::new(), dir, extras)).await?;
            return Ok(reply.added.unwrap_or(0));
        }
        let mut added = 0;
        for urls in batches(urls, dir.as_deref(), &extras) {
            match self.request(&Request::add(urls, dir.clone(), extras.clone())).await {
                Ok(reply) => added += reply.added.unwrap_or(0),
                Err(error) if added == 0 => return Err(error),
                Err(error) => return Err(ClientError::Partly { added, error: Box::new(error) }),
            }
        }
        Ok(added)
    }

    pub async fn ls(&mut self) -> Result<Vec<ItemRecord>, ClientError> {
        Ok(self.request(&Request::Ls {}).await?.items.unwrap_or_default())
    }

    /// Applies `edit` to `ids` (at most `MAX_URLS` of them; `refresh` to the first); an answer
    /// per id, in order.
    pub async fn edit(&mut self, edit: &Edit, ids: Vec<u64>) -> Result<Vec<EditAnswer>, ClientError> {
        let reply = self.request(&Request::edit(edit, ids)).await?;
        reply.results.ok_or_else(|| ClientError::BadReply("no results in the reply".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format() {
        let add = Request::add(vec!["http://a/".into()], Some("/d".into()), AddExtras::default());
        assert_eq!(serde_json::to_string(&add).unwrap(), r#"{"cmd":"add","urls":["http://a/"],"dir":"/d"}"#);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"add","urls":["http://a/"],"dir":"/d"}"#).unwrap(),
            add
        );
        let with = Request::add(
            vec![AddUrl { checksum: Some("md5=00".into()), ..AddUrl::new("http://a/") }, "http://b/".into()],
            None,
            AddExtras { dir_is_default: true, checksum_file: Some("/S".into()), curl: None },
        );
        let wire = r#"{"cmd":"add","urls":[{"url":"http://a/","checksum":"md5=00"},"http://b/"],"dir_is_default":true,"checksum_file":"/S"}"#;
        assert_eq!(serde_json::to_string(&with).unwrap(), wire);
        assert_eq!(serde_json::from_str::<Request>(wire).unwrap(), with);
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"add","urls":[{"url":"h","x":1}]}"#).is_err());
        let curl = Request::add(
            vec![],
            None,
            AddExtras { curl: Some(CurlText("curl -b sid=SECRET h".into())), ..AddExtras::default() },
        );
        assert!(!format!("{curl:?}").contains("SECRET"), "Debug never shows a curl command");
        assert_eq!(serde_json::from_str::<Request>(r#"{"cmd":"ls"}"#).unwrap(), Request::Ls {});
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm"}"#).is_err());
        let pause = Request::edit(&Edit::Pause, vec![3, 7]);
        assert_eq!(serde_json::to_string(&pause).unwrap(), r#"{"cmd":"pause","ids":[3,7]}"#);
        let refresh = Request::edit(&Edit::Refresh("http://b/".into()), vec![3]);
        assert_eq!(serde_json::to_string(&refresh).unwrap(), r#"{"cmd":"refresh","id":3,"url":"http://b/"}"#);
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"ls","x":1}"#).is_err());
    }

    #[test]
    fn changes_by_id_need_ids_and_a_url() {
        assert!(check(Request::Pause { ids: vec![] }).is_err());
        assert!(check(Request::Remove { ids: vec![0; MAX_URLS + 1] }).is_err());
        assert_eq!(check(Request::Retry { ids: vec![4] }).unwrap(), Request::Retry { ids: vec![4] });
        assert!(check(Request::Refresh { id: 1, url: "  ".into() }).is_err());
        let (edit, ids) = Request::Refresh { id: 2, url: "http://b/".into() }.as_edit().unwrap();
        assert_eq!((edit, ids), (Edit::Refresh("http://b/".into()), vec![2]));
    }

    #[test]
    fn long_lists_are_cut_into_requests_the_server_accepts() {
        let none = AddExtras::default();
        let urls: Vec<AddUrl> = (0..25_000).map(|i| AddUrl::new(format!("http://h/{i}"))).collect();
        let cut = batches(urls.clone(), Some(Path::new("/d")), &none);
        assert_eq!(cut.iter().map(Vec::len).collect::<Vec<_>>(), [MAX_URLS, MAX_URLS, 5_000]);
        assert_eq!(cut.concat(), urls, "every URL once, in order");
        let long: Vec<AddUrl> = (0..3)
            .map(|i| AddUrl {
                url: format!("http://h/{i}/{}", "\"".repeat(200_000)),
                checksum: Some(format!("sha256={}", "0".repeat(64))),
                listed: true,
            })
            .collect();
        for batch in batches(long, None, &none) {
            let line = serde_json::to_vec(&Request::add(batch, None, none.clone())).unwrap();
            assert!(line.len() <= MAX_LINE, "{}", line.len());
        }
        assert!(batches(Vec::new(), None, &none).is_empty());
    }
}
