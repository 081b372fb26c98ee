//! `cargo run -p cus-example-portal`: the example portal, configured from the environment.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let listen: SocketAddr = var("PORTAL_LISTEN", "127.0.0.1:3000").parse()?;
    let config = cus_example_portal::PortalConfig {
        issuer: var("CUS_ISSUER", "http://127.0.0.1:8080"),
        client_id: var("PORTAL_CLIENT_ID", "portal-ejemplo"),
        client_secret: std::env::var("PORTAL_CLIENT_SECRET").map_err(|_| {
            anyhow::anyhow!("set PORTAL_CLIENT_SECRET to the secret `cus client create` printed")
        })?,
        base_url: format!("http://{listen}"),
    };
    eprintln!(
        "example portal at http://{listen}/ (CUS at {})",
        config.issuer
    );
    cus_example_portal::serve(config, listen).await
}
