//! The `dlm` binary: parse arguments, pick a front end, run it, turn the result into an exit
//! status. Everything else lives in the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use dlm::cli::{Cli, Commands};
use dlm::headless::{self, Input, Verbosity};

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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // A broken config file stops every command: silently running with other settings than
    // the person wrote would be worse than an error.
    let (config, _source) = dlm::config::load(cli.config.as_deref())?;
    match cli.command {
        Some(Commands::Get(get)) => {
            let options = engine_options(&config, &get.download)?;
            let inputs = gather_inputs(&get.urls, get.input.as_deref())?;
            if inputs.is_empty() {
                anyhow::bail!("no URLs given (pass URLs as arguments or -i FILE; see dlm get --help)");
            }
            let verbosity = Verbosity::detect(get.quiet);
            runtime.block_on(headless::run(inputs, options, verbosity, config.actions_config()))
        }
        Some(Commands::Add(add)) => {
            let inputs = gather_inputs(&add.urls, add.input.as_deref())?;
            let dir = add.dir.or(config.download_dir);
            runtime.block_on(dlm::remote::add(
                inputs,
                dir,
                config.save_credentials,
                &mut dlm::output::stdout(),
            ))
        }
        Some(Commands::Ls(ls)) => runtime.block_on(dlm::remote::ls(ls.json, &mut dlm::output::stdout())),
        None => {
            let options = engine_options(&config, &cli.download)?;
            // Checked already with the rest of the config file.
            let keymap = dlm::tui::KeyMap::with_overrides(&config.keys)?;
            let actions = config.actions_config();
            runtime.block_on(dlm::tui::run(cli.urls, options, keymap, config.save_credentials, actions))
        }
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

/// URLs from the arguments (labelled `argument N`) followed by those of a `-i FILE` list.
fn gather_inputs(urls: &[String], list: Option<&std::path::Path>) -> anyhow::Result<Vec<Input>> {
    let mut inputs: Vec<Input> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| Input { origin: format!("argument {}", i + 1), url: url.clone() })
        .collect();
    if let Some(path) = list {
        inputs.extend(read_inputs(path)?);
    }
    Ok(inputs)
}

/// The URLs of a `-i FILE` list, each labelled `FILE:LINE` for error messages.
fn read_inputs(path: &std::path::Path) -> anyhow::Result<Vec<Input>> {
    let listed = dlm::inputs::read_list(path)
        .map_err(|e| anyhow::anyhow!("cannot read URL list {}: {e}", path.display()))?;
    let name = if path.as_os_str() == "-" { "stdin".to_string() } else { path.display().to_string() };
    Ok(listed.into_iter().map(|l| Input { origin: format!("{name}:{}", l.line), url: l.url }).collect())
}
