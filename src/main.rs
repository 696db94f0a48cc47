//! The `dlm` binary: parse arguments, pick a front end, run it, turn the result into an exit
//! status. Everything else lives in the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use dlm::cli::{Cli, Commands};
use dlm::engine::{ChecksumBook, ChecksumSource, ExpectedChecksum, load_sums};
use dlm::headless::{self, Input, Verbosity};
use dlm::state::Edit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader of our output left (`dlm ls | head -2`): end quietly, as other tools do.
        Err(_) if dlm::output::stdout_closed() => ExitCode::SUCCESS,
        Err(e) => {
            dlm::output::err_line(&format!("dlm: {e:#}"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    cli.check().map_err(anyhow::Error::msg)?;
    // Needs no config: a completion script is the same whatever the settings.
    if let Some(Commands::Completions(c)) = &cli.command {
        dlm::cli::completions(c.shell, &mut dlm::output::stdout());
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // A broken config file stops every command: silently running with other settings than
    // the person wrote would be worse than an error.
    let (config, _source) = dlm::config::load(cli.config.as_deref())?;
    match cli.command {
        Some(Commands::Get(get)) => {
            let mut options = engine_options(&config, &get.download)?;
            let (inputs, listed) = gather_inputs(&get.urls, get.input.as_deref())?;
            if inputs.is_empty() {
                anyhow::bail!("no URLs given (pass URLs as arguments or -i FILE; see dlm get --help)");
            }
            if get.output.is_some() && inputs.len() > 1 {
                anyhow::bail!(
                    "-O NAME names one file, but {} URLs were given; drop -O, or run dlm get once per URL",
                    inputs.len()
                );
            }
            let urls: Vec<&str> = inputs.iter().map(|i| i.url.as_str()).collect();
            let book = checksum_book(&runtime, &options, &get.download, &urls, listed)?;
            options.checksums = std::sync::Arc::new(book);
            let verbosity = Verbosity::detect(get.quiet, get.json);
            let policy = policy(&config);
            runtime.block_on(headless::run_named(
                inputs,
                get.output,
                options,
                verbosity,
                policy,
                config.actions_config(),
            ))
        }
        Some(Commands::Add(add)) => {
            let (inputs, listed) = gather_inputs(&add.urls, add.input.as_deref())?;
            let curl = match add.curl.as_deref() {
                Some("-") => Some(std::io::read_to_string(std::io::stdin()).context("cannot read --curl -")?),
                other => other.map(str::to_string),
            };
            let options = dlm::remote::AddOptions {
                dir: add.dir,
                default_dir: config.download_dir.clone(),
                checksum: add.checksum.map(|c| *c),
                listed,
                checksum_file: add.checksum_file,
                curl,
                save_credentials: config.save_credentials,
                rules: config.rules.clone(),
                engine: config.engine_options(),
            };
            runtime.block_on(dlm::remote::add(inputs, options, &mut dlm::output::stdout()))
        }
        // Answered above, before the config is read.
        Some(Commands::Completions(_)) => Ok(ExitCode::SUCCESS),
        Some(Commands::Ls(ls)) => {
            runtime.block_on(dlm::remote::ls(ls.json, &ls.states, &mut dlm::output::stdout()))
        }
        Some(Commands::Pause(a)) => edit(&runtime, &config, Edit::Pause, a.ids),
        Some(Commands::Resume(a)) => edit(&runtime, &config, Edit::Resume, a.ids),
        Some(Commands::Remove(a)) => edit(&runtime, &config, Edit::Remove, a.ids),
        Some(Commands::Retry(a)) => edit(&runtime, &config, Edit::Retry, a.ids),
        Some(Commands::Refresh(a)) => edit(&runtime, &config, Edit::Refresh(a.url), vec![a.id]),
        None => {
            let mut options = engine_options(&config, &cli.download)?;
            let urls: Vec<&str> = cli.urls.iter().map(String::as_str).collect();
            options.checksums =
                std::sync::Arc::new(checksum_book(&runtime, &options, &cli.download, &urls, vec![])?);
            // Checked already with the rest of the config file.
            let keymap = dlm::tui::KeyMap::with_overrides(&config.keys)?;
            let policy = policy(&config);
            let actions = config.actions_config();
            runtime.block_on(dlm::tui::run(
                cli.urls,
                options,
                keymap,
                config.save_credentials,
                policy,
                actions,
            ))
        }
    }
}

/// `dlm pause|resume|remove|retry|refresh`.
fn edit(
    runtime: &tokio::runtime::Runtime,
    config: &dlm::config::Config,
    edit: Edit,
    ids: Vec<u64>,
) -> anyhow::Result<ExitCode> {
    runtime.block_on(dlm::remote::edit(edit, ids, config.save_credentials, &mut dlm::output::stdout()))
}

/// The config's `[[rule]]`s and `[[schedule]]`, which the session applies.
fn policy(config: &dlm::config::Config) -> dlm::session::SessionConfig {
    dlm::session::SessionConfig {
        rules: config.rules.clone(),
        schedule: config.schedule.clone(),
        ..Default::default()
    }
}

/// The config's settings with the flags on top, the download folder made absolute: the saved
/// queue records it, and a relative one meant another folder to a dlm started elsewhere.
fn engine_options(
    config: &dlm::config::Config,
    flags: &dlm::cli::DownloadArgs,
) -> anyhow::Result<dlm::engine::EngineOptions> {
    let mut options = config.engine_options();
    if let Some(file) = &config.cookies_file {
        options.cookies = dlm::engine::CookieJar::read(file)?;
    }
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let env = std::env::var_os(dlm::engine::NETRC_ENV);
    options.netrc = flags.netrc(config.netrc.as_ref(), env, home.as_deref()).map_err(anyhow::Error::msg)?;
    flags.apply(&mut options).map_err(anyhow::Error::msg)?;
    let dir = &options.download_dir;
    options.download_dir =
        std::path::absolute(dir).with_context(|| format!("bad download folder {}", dir.display()))?;
    Ok(options)
}

/// A URL of a list with the checksum its line gave.
type Listed = Vec<(String, ExpectedChecksum)>;

/// URLs from the arguments (labelled `argument N`) followed by those of a `-i FILE` list, and
/// the checksums the list's lines gave.
fn gather_inputs(urls: &[String], list: Option<&std::path::Path>) -> anyhow::Result<(Vec<Input>, Listed)> {
    let mut inputs: Vec<Input> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| Input { origin: format!("argument {}", i + 1), url: url.clone() })
        .collect();
    let mut listed = Vec::new();
    if let Some(path) = list {
        let (more, given) = read_inputs(path)?;
        inputs.extend(more);
        listed = given;
    }
    Ok((inputs, listed))
}

/// The URLs of a `-i FILE` list, each labelled `FILE:LINE` for error messages, and the
/// checksums given after them. A bad checksum stops everything, naming its line: downloading
/// without the check the person asked for would be worse.
fn read_inputs(path: &std::path::Path) -> anyhow::Result<(Vec<Input>, Listed)> {
    let listed = dlm::inputs::read_list(path)
        .map_err(|e| anyhow::anyhow!("cannot read URL list {}: {e}", path.display()))?;
    let name = if path.as_os_str() == "-" { "stdin".to_string() } else { path.display().to_string() };
    let mut inputs = Vec::with_capacity(listed.len());
    let mut checksums = Vec::new();
    for l in listed {
        let origin = format!("{name}:{}", l.line);
        if let Some(text) = &l.checksum {
            let checksum = ExpectedChecksum::parse(text, ChecksumSource::List)
                .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
            checksums.push((l.url.clone(), checksum));
        }
        inputs.push(Input { origin, url: l.url });
    }
    Ok((inputs, checksums))
}

/// Every checksum known before the downloads start: `--checksum` for the one URL, list lines,
/// and a `--checksum-file` (read, or fetched when it is a URL).
fn checksum_book(
    runtime: &tokio::runtime::Runtime,
    options: &dlm::engine::EngineOptions,
    flags: &dlm::cli::DownloadArgs,
    urls: &[&str],
    listed: Listed,
) -> anyhow::Result<ChecksumBook> {
    let mut book = ChecksumBook::default();
    if let Some(checksum) = &flags.checksum {
        let [url] = urls else {
            anyhow::bail!(
                "--checksum is for one URL, {} were given; for several, put `URL sha256=HEX` lines in a \
                 list (-i FILE) or use --checksum-file",
                urls.len()
            );
        };
        book.insert_url(*url, (**checksum).clone());
    }
    for (url, checksum) in listed {
        book.insert_url(url, checksum);
    }
    if let Some(source) = &flags.checksum_file {
        book.add_file(runtime.block_on(load_sums(source, None, options)).map_err(anyhow::Error::msg)?);
    }
    Ok(book)
}
