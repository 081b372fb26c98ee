//! The application value every handler shares: configuration, backends and services.

use std::ops::Deref;
use std::sync::Arc;

use cus_cache::Cache;
use cus_store::Store;

use crate::clock::Clock;
use crate::config::Config;
use crate::hashing::Hasher;
use crate::keys::Keyring;

pub struct App {
    pub config: Config,
    /// The exact issuer identifier (configured, or derived from the listen address).
    pub issuer: String,
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub clock: Arc<dyn Clock>,
    pub keys: Keyring,
    pub hasher: Hasher,
    /// Captcha images drawn at once: one per core. A burst of form pages (a burst of
    /// refusals for load re-renders its forms) would otherwise put a drawing thread per
    /// request on tokio's blocking pool and starve the runtime, and the cache round trips
    /// it drives, of CPU.
    pub drawing: tokio::sync::Semaphore,
    /// Signs CSRF tokens (derived from the KEK).
    pub csrf_key: [u8; 32],
    /// Seals secret-bearing message bodies in the outbox (derived from the KEK).
    pub message_key: crate::secrets::MessageKey,
    /// The GeoIP City database (`geoip.database`), when `cus serve` has one: "Mis
    /// sesiones" names each session's approximate place.
    pub places: Option<crate::geoip::Places>,
    /// Set at SIGTERM: `/readyz` answers 503 so the load balancer stops sending new
    /// requests while the in-flight ones finish.
    pub draining: std::sync::atomic::AtomicBool,
}

/// Cheap to clone: handed to every handler by axum.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
