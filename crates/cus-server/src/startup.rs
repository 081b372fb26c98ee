//! Builds the application from a `Config` and serves it until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::app::{App, AppState};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;

/// A bound, ready-to-serve CUS: the listener is open, backends connected, migrations run.
pub struct Application {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    /// The management listener (`server.management_listen`), when configured.
    management: Option<tokio::net::TcpListener>,
    state: AppState,
}

impl Application {
    /// Binds `config.server.listen` (port 0 picks a free port) and connects everything.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Installed before anything is recorded (the signing keys' load, the first request).
        crate::metrics::handle();
        // First: a wrong `geoip.database` stops the start before anything is connected.
        let places = open_places(&config).await?;
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let address = listener.local_addr()?;
        let management =
            match config.server.management_listen {
                Some(at) => Some(tokio::net::TcpListener::bind(at).await.with_context(|| {
                    format!("cannot listen on {at} (server.management_listen)")
                })?),
                None => None,
            };
        let scheme = if config.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let issuer = if config.server.issuer.is_empty() {
            format!("{scheme}://{address}")
        } else {
            config.server.issuer.clone()
        };
        let store = open_store(&config).await?;
        for caution in config.cautions() {
            tracing::warn!("{caution}");
        }
        let app = assemble(config, issuer, store, clock, places).await?;
        Ok(Self {
            listener,
            address,
            management,
            state: AppState(Arc::new(app)),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The management listener's address, when one is configured.
    pub fn management_address(&self) -> Option<SocketAddr> {
        self.management.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until a shutdown signal, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let state = self.state.clone();
        let router = crate::http::router(state.clone());
        tokio::spawn(crate::oidc::keep_keys_fresh(state.clone()));
        tokio::spawn(crate::metrics::keep_up());
        if let Some(listener) = self.management {
            let management = crate::http::management(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, management).await {
                    tracing::error!(error = %e, "the management listener stopped");
                }
            });
        }
        let delivery = crate::delivery::Delivery::from_config(&state.config.outbox)?;
        let (stop_outbox, outbox_stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::retention::run(state.clone(), outbox_stopped.clone()));
        let outbox = tokio::spawn(crate::delivery::run(
            state.clone(),
            delivery,
            outbox_stopped,
        ));
        let grace = Duration::from_secs(state.config.server.shutdown_grace_seconds);
        tracing::info!(
            url = %state.issuer,
            store = state.store.backend(),
            cache = state.cache.backend(),
            "CUS listening"
        );
        if state.config.tls_enabled() {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(
                &state.config.tls.cert_file,
                &state.config.tls.key_file,
            )
            .await
            .context("cannot load the TLS certificate or key")?;
            let handle = axum_server::Handle::new();
            let signal_handle = handle.clone();
            let signalled = state.clone();
            tokio::spawn(async move {
                shutdown_signal(&signalled).await;
                signal_handle.graceful_shutdown(Some(grace));
            });
            axum_server::from_tcp_rustls(self.listener.into_std()?, tls)?
                .handle(handle)
                .serve(router.into_make_service_with_connect_info::<SocketAddr>())
                .await?;
        } else {
            // In-flight requests get `grace` after the signal, then the node exits anyway:
            // a slow or stuck client must not hold a rolling restart for the whole request
            // timeout.
            let stopping = Arc::new(tokio::sync::Notify::new());
            let signalled = stopping.clone();
            let draining = state.clone();
            let serve = axum::serve(
                self.listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                shutdown_signal(&draining).await;
                signalled.notify_one();
            });
            tokio::select! {
                served = serve => served?,
                () = async {
                    stopping.notified().await;
                    tokio::time::sleep(grace).await;
                } => tracing::warn!("grace period over: requests still in flight were cut off"),
            }
        }
        // The outbox worker finishes the round it is in (within the lease's bounds).
        let _ = stop_outbox.send(true);
        if tokio::time::timeout(grace, outbox).await.is_err() {
            tracing::warn!("the outbox round did not finish within the grace period");
        }
        tracing::info!("CUS stopped");
        Ok(())
    }
}

/// Connects the configured store, ready for this release: in development pending
/// migrations are applied (the embedded default needs no set-up); in production only
/// `cus migrate` changes the schema, and a database with pending migrations is refused.
/// Everything the services need, around an open store: the cache, the signing keys, the
/// hasher, the keys derived from the KEK, and the GeoIP database `cus serve` opened.
async fn assemble(
    config: Config,
    issuer: String,
    store: Arc<dyn cus_store::Store>,
    clock: Arc<dyn Clock>,
    places: Option<crate::geoip::Places>,
) -> anyhow::Result<App> {
    let cache = open_cache(&config, clock.clone()).await?;
    let kek = crate::secrets::Kek::from_config(&config.keys)?;
    let csrf_key = kek.derive("csrf");
    let message_key = crate::secrets::MessageKey::derive(&kek);
    let keys = crate::keys::Keyring::load(store.clone(), kek, clock.now())
        .await
        .context("cannot load the signing keys")?;
    let hasher = crate::hashing::Hasher::new(&config.hash)?;
    if !config.captcha.test_answer.is_empty() {
        tracing::warn!(
            "captcha.test_answer is set: the captcha is NOT protecting this server (tests only)"
        );
    }
    Ok(App {
        config,
        issuer,
        store,
        cache,
        clock,
        keys,
        hasher,
        drawing: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, usize::from),
        ),
        csrf_key,
        message_key,
        places,
        draining: std::sync::atomic::AtomicBool::new(false),
    })
}

/// The services for a `cus` command that acts as the server would (the help desk's
/// `cus account …`): the existing store, the shared cache, the keys, nothing listening.
/// Links in mails name `server.issuer` (or `http://` + `server.listen` when unset).
pub async fn command_state(config: Config) -> anyhow::Result<AppState> {
    let store = open_existing_store(&config).await?;
    let issuer = if config.server.issuer.is_empty() {
        format!("http://{}", config.server.listen)
    } else {
        config.server.issuer.clone()
    };
    // No command shows a place: only `cus serve` reads the GeoIP file.
    let app = assemble(config, issuer, store, Arc::new(SystemClock), None).await?;
    Ok(AppState(Arc::new(app)))
}

/// The GeoIP City database `geoip.database` names, read once; `None` when it names none.
async fn open_places(config: &Config) -> anyhow::Result<Option<crate::geoip::Places>> {
    if !config.geoip.enabled() {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(&config.geoip.database);
    // Tens of megabytes read and checked: off the async workers.
    let places = tokio::task::spawn_blocking(move || crate::geoip::Places::open(&path))
        .await
        .context("the GeoIP database reader stopped")??;
    let (kind, built) = places.describe();
    tracing::info!(geoip.database_type = %kind, geoip.build_epoch = built, "GeoIP database loaded");
    Ok(Some(places))
}

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn cus_store::Store>> {
    let store = connect_store(config).await?;
    if config.environment == crate::config::Environment::Production {
        let pending = store.pending_migrations().await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "the database has {} pending migration(s) ({}): apply them with `cus migrate` first",
                pending.len(),
                pending.join(", ")
            );
        }
    } else {
        store
            .migrate()
            .await
            .context("cannot apply database migrations")?;
    }
    Ok(store)
}

/// Opens the cache `cache.url` names; the in-process cache measures its TTLs by `clock`.
pub async fn open_cache(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn cus_cache::Cache>> {
    cus_cache::connect(
        config.cache.url.expose_secret(),
        &config.cache.prefix,
        crate::clock::cache_time(clock),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the cache at {}: {e}",
            crate::telemetry::redact_url(config.cache.url.expose_secret())
        )
    })
}

/// [`open_store`] for every command but `cus serve`: a missing SQLite file is refused, not
/// created, so a mistyped `database.url` never yields an empty database (only `cus migrate
/// --create`, and `cus serve` in development, create one).
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Arc<dyn cus_store::Store>> {
    refuse_missing(config)?;
    open_store(config).await
}

/// Fails, saying how to create it, when the configured SQLite database does not exist.
pub fn refuse_missing(config: &Config) -> anyhow::Result<()> {
    match cus_store::missing_sqlite_file(config.database.url.expose_secret()) {
        Some(path) => anyhow::bail!(
            "no database at {}: create it with `cus migrate --create`",
            path.display()
        ),
        None => Ok(()),
    }
}

/// Connects the configured store, schema as it is.
pub async fn connect_store(config: &Config) -> anyhow::Result<Arc<dyn cus_store::Store>> {
    let url = config.database.url.expose_secret();
    let store = cus_store::connect(url, config.database.max_connections)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the database at {}: {e}",
                crate::telemetry::redact_url(url)
            )
        })?;
    Ok(store)
}

/// Waits for SIGTERM or Ctrl-C, then marks the node draining (`/readyz` answers 503 from
/// here on, so the balancer sends no new requests while in-flight ones finish).
async fn shutdown_signal(app: &AppState) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    app.draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!("shutdown requested: finishing in-flight requests");
}
