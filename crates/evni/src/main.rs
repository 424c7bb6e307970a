//! The `evni` command line: a thin layer over the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use evni::{App, Config};
use evni_api::Scope;

/// mimalloc rather than the system allocator: the hot path allocates many
/// small, short-lived buffers (request bodies, readings, verdicts) across
/// threads, where it is measurably cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "evni",
    version,
    about = "EV Network Intelligence: anomaly verdicts for OCPP charging sessions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API (EVNI_LISTEN, default 127.0.0.1:8080) on the database in EVNI_DATA_DIR.
    Serve,
    /// Run job workers only (batch analysis, fine-tuning), beside or instead of `serve`.
    Worker {
        /// Concurrent workers in this process.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print a one-time dashboard login URL, valid for 10 minutes.
    DashboardLink {
        #[arg(long)]
        tenant: String,
        /// read, write or admin: what the dashboard session may do.
        #[arg(long, default_value = "admin", value_parser = parse_scope)]
        scope: Scope,
        /// The dashboard's address as the browser reaches it; default
        /// http:// and the listen address.
        #[arg(long)]
        url: Option<String>,
    },
    /// Write simulated labelled sessions as JSON lines (the dev-set format).
    Simulate {
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of sessions with a novel fault (UNUSUAL_PATTERN: oscillation,
        /// phase loss, register sawtooth) that no rule names; 0 leaves them out.
        #[arg(long, default_value_t = 0.0)]
        novel_share: f64,
        /// Simulate station histories instead of sessions: this many
        /// stations, one line per station-day with labelled station faults
        /// (the input of `evni eval-stations`).
        #[arg(long, conflicts_with_all = ["sessions", "novel_share"])]
        stations: Option<usize>,
        /// Days of station history (with --stations).
        #[arg(long, default_value_t = 90, requires = "stations")]
        days: i64,
        /// Output file; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Evaluate SHADE on simulated station histories (`evni simulate
    /// --stations`): recall, precision and detection delay per anomaly type,
    /// and false station alerts per station and quarter.
    EvalStations { file: PathBuf },
    /// Train a base model (csar_2 or csar_c_2) from simulated sessions and
    /// write its safetensors and JSON sidecar to --out.
    Train {
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// A small configuration that trains in seconds (for trying it out).
        #[arg(long)]
        tiny: bool,
    },
    /// Benchmarks that print their figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Evaluate the analysis on labelled sessions (.jsonl or .jsonl.gz).
    Eval {
        file: PathBuf,
        /// Evaluate through a running server instead of in process.
        #[arg(long, requires = "token")]
        url: Option<String>,
        /// Bearer token (write scope) for --url.
        #[arg(long)]
        token: Option<String>,
        /// In process: the rules alone, without the learned models.
        #[arg(long)]
        rules_only: bool,
        /// In process: the models in this directory (`csar_2/` and
        /// `csar_c_2/`, as `evni train` writes them) instead of the shipped ones.
        #[arg(long, conflicts_with_all = ["rules_only", "url"])]
        models: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Submit a batch to an in-process server on 127.0.0.1 and time it to completion.
    Batch {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Chargers sending MeterValues through the OCPP proxy to a simulated CSMS,
    /// on 127.0.0.1 (evni serve as a child process): added latency per frame and memory per idle connection.
    Ocpp {
        #[arg(long, default_value_t = 1000)]
        chargers: usize,
        /// Seconds between two MeterValues of one charger.
        #[arg(long, default_value_t = 10)]
        interval: u64,
        /// Seconds each phase (through the proxy, then direct) sends frames.
        #[arg(long, default_value_t = 60)]
        duration: u64,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints an admin token as the last line.
    Create { name: String },
    /// List tenants.
    List,
    /// Refuse every token of a tenant (403) within a second; its data stays.
    Disable { name: String },
    /// Accept a disabled tenant's tokens again.
    Enable { name: String },
    /// Delete a tenant and all its data (sessions, readings, verdicts,
    /// feedback, stations, health, webhooks, batches, jobs, models, uploads).
    /// Asks for the tenant's name again unless --yes.
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token for a tenant; prints it as the last line.
    Issue {
        #[arg(long)]
        tenant: String,
        /// read, write or admin (each includes the ones before).
        #[arg(long, default_value = "write", value_parser = parse_scope)]
        scope: Scope,
        /// Lifetime, e.g. 30d, 12h, 1y.
        #[arg(long, default_value = "365d", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Revoke a token, given whole or by its id (jti): every API process on
    /// this database refuses it within a second.
    Revoke { token_or_id: String },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| format!("'{text}' is not a scope: read, write or admin"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        // These need neither configuration nor a runtime.
        Command::Simulate {
            stations: Some(stations),
            days,
            seed,
            out,
            ..
        } => return evni::commands::stations::simulate(*stations, *days, *seed, out.as_deref()),
        Command::EvalStations { file } => return evni::commands::stations::evaluate(file),
        Command::Simulate {
            sessions,
            seed,
            novel_share,
            out,
            ..
        } => return evni::commands::simulate::run(*sessions, *seed, *novel_share, out.as_deref()),
        Command::Train {
            model,
            seed,
            out,
            tiny,
        } => {
            return evni::commands::train::run(model, *seed, out, *tiny);
        }
        _ => {}
    }
    let config = Config::load()?;
    init_tracing(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli, config))
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let app = evni::build(&config)?;
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            tracing::info!(address = %listener.local_addr()?, data_dir = %config.data_dir.display(), "evni is listening");
            app.run(listener, evni::shutdown_signal()).await
        }
        Command::Worker { concurrency } => {
            let app = evni::build(&config)?;
            tracing::info!(concurrency, data_dir = %config.data_dir.display(), "evni worker is running");
            app.run_workers(concurrency, evni::shutdown_signal()).await;
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Batch { sessions, workers },
        } => evni::commands::bench::batch(sessions, workers).await,
        Command::Bench {
            command:
                BenchCommand::Ocpp {
                    chargers,
                    interval,
                    duration,
                },
        } => evni::commands::bench_ocpp::run(chargers, interval, duration).await,
        Command::Migrate => {
            evni::open_store(&config)?;
            println!("database {} is up to date", config.database_label());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Create { name },
        } => {
            let app = evni::build(&config)?;
            let (tenant, token) = app.create_tenant(&name).await?;
            println!(
                "created tenant '{}' ({}); its admin token:",
                tenant.name, tenant.id
            );
            println!("{token}");
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::List,
        } => {
            let app = evni::build(&config)?;
            for tenant in app.store().list_tenants().await? {
                println!("{}\t{}", tenant.id, tenant.name);
            }
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Disable { name },
        } => set_disabled(&config, &name, true).await,
        Command::Tenant {
            command: TenantCommand::Enable { name },
        } => set_disabled(&config, &name, false).await,
        Command::Tenant {
            command: TenantCommand::Delete { name, yes },
        } => {
            if !yes {
                eprint!("This deletes tenant '{name}' and all its data for good. Type its name to confirm: ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                anyhow::ensure!(answer.trim() == name, "not confirmed; nothing was deleted");
            }
            let app = evni::build(&config)?;
            let tenant = app.delete_tenant(&name).await?;
            println!(
                "deleted tenant '{}' ({}) and all its data",
                tenant.name, tenant.id
            );
            Ok(())
        }
        Command::DashboardLink { tenant, scope, url } => {
            let app: App = evni::build(&config)?;
            let tenant = app
                .store()
                .tenant_by_name(&tenant)
                .await
                .with_context(|| format!("no tenant named '{tenant}'"))?;
            let base = url.unwrap_or_else(|| format!("http://{}", config.listen));
            eprintln!("valid for 10 minutes, for one login:");
            println!("{}", evni_ui::login_url(&app.state.keys, &base, &tenant, scope));
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { token_or_id },
        } => {
            let app = evni::build(&config)?;
            let (jti, already) = app.revoke_token(&token_or_id).await?;
            let state = if already {
                "was revoked already"
            } else {
                "is revoked"
            };
            println!("token {jti} {state}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Issue { tenant, scope, ttl },
        } => {
            let app: App = evni::build(&config)?;
            let tenant = app
                .store()
                .tenant_by_name(&tenant)
                .await
                .with_context(|| format!("no tenant named '{tenant}'"))?;
            let token = app.issue_token(&tenant, scope, ttl)?;
            let jti = app.state.keys.token_id(&token)?;
            eprintln!("token id (for evni token revoke): {jti}");
            println!("{token}");
            Ok(())
        }
        Command::Eval {
            file,
            url,
            token,
            rules_only,
            models,
        } => {
            use evni::commands::eval::{ModelChoice, Target};
            let target = match (url, token) {
                (Some(url), Some(token)) => Target::Http { url, token },
                _ => Target::InProcess,
            };
            let models = match (rules_only, models) {
                (true, _) => ModelChoice::None,
                (false, Some(dir)) => ModelChoice::Dir(dir),
                (false, None) => ModelChoice::Base,
            };
            evni::commands::eval::run(&file, target, models).await
        }
        Command::Simulate { .. } | Command::Train { .. } | Command::EvalStations { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

async fn set_disabled(config: &Config, name: &str, disabled: bool) -> anyhow::Result<()> {
    let app = evni::build(config)?;
    let tenant = app
        .store()
        .tenant_by_name(name)
        .await
        .with_context(|| format!("no tenant named '{name}'"))?;
    app.store().set_tenant_disabled(tenant.id, disabled).await?;
    let state = if disabled { "disabled" } else { "enabled" };
    println!("tenant '{name}' is {state}");
    Ok(())
}

fn init_tracing(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so that stdout carries only command output (tokens).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
