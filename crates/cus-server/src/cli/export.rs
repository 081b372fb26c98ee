//! `cus account export RUT`: everything CUS holds about a person, as JSON (Ley 21.719),
//! audited as the operator's access to it.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::{Operator, print_out};
use crate::clock::Clock;
use crate::config::Config;
use crate::personal_data::{self, Requester, Sources};
use crate::startup;

/// Prints the document of the account `rut` names.
pub async fn run(config: &Config, rut: &str, operator: Operator<'_>) -> anyhow::Result<()> {
    let rut = cus_core::Rut::parse(rut).map_err(|e| anyhow::anyhow!("RUT: {e}"))?;
    let operator = operator.name()?;
    let store = startup::open_existing_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
    // The in-process cache is each node's own: from here its sessions cannot be seen, and
    // the document says so (`sessions: null`) rather than claiming there are none.
    let cache = match config.cache.url.expose_secret() {
        "memory" => None,
        _ => Some(startup::open_cache(config, clock.clone()).await?),
    };
    let sources = Sources {
        store: store.as_ref(),
        cache: cache.as_deref(),
        oidc: &config.oidc,
    };
    let requester = Requester::Operator(&operator);
    let Some(document) = personal_data::export(&sources, &rut, requester, clock.now()).await?
    else {
        anyhow::bail!("no account has the RUT {rut}");
    };
    print_out(&serde_json::to_string_pretty(&document)?);
    Ok(())
}
