//! The nine scenarios of docs/benchmarks.md: what each worker holds before the load
//! (prepared through the real endpoints) and what one step of it sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::http::{Jar, client, input_value, location, query_param};
use crate::load::Step;
use crate::servers::{CAPTCHA_ANSWER, REDIRECT};

/// RFC 7636 Appendix B: `CHALLENGE` is S256 of `VERIFIER`.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The CUS of every benchmark account.
pub const SECRET: &str = "la casa del lago azul";

pub const NAMES: [&str; 9] = [
    "discovery",
    "JWKS",
    "client_credentials",
    "refresh_token (rotating)",
    "userinfo (JWT access token)",
    "introspection",
    "code exchange",
    "full browser login",
    "registration form",
];

/// Where a provider's endpoints are (from its discovery document) and who the client is.
pub struct Target {
    pub label: String,
    pub base: String,
    pub discovery: String,
    pub jwks: String,
    pub token: String,
    pub userinfo: String,
    pub introspect: String,
    pub authorize: url::Url,
    pub client_id: String,
    pub client_secret: String,
    /// CUS only: the RUTs of the accounts logins use (one per worker).
    pub accounts: Vec<String>,
    /// CUS only: the next RUT body a registration takes.
    pub next_rut: Arc<AtomicU32>,
    /// The peer only: the tokens it minted at start-up.
    pub peer_tokens: Option<Value>,
}

impl Target {
    pub async fn discover(
        label: &str,
        base: &str,
        client_id: &str,
        client_secret: &str,
    ) -> anyhow::Result<Self> {
        let discovery = format!("{base}/.well-known/openid-configuration");
        let doc: Value = client().get(&discovery).send().await?.json().await?;
        let at = |k: &str| {
            doc[k]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{k} in discovery"))
        };
        Ok(Self {
            label: label.to_owned(),
            base: base.to_owned(),
            jwks: at("jwks_uri")?,
            token: at("token_endpoint")?,
            userinfo: at("userinfo_endpoint")?,
            introspect: at("introspection_endpoint")?,
            authorize: url::Url::parse(&at("authorization_endpoint")?)?,
            discovery,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            accounts: Vec::new(),
            next_rut: Arc::new(AtomicU32::new(40_000_000)),
            peer_tokens: None,
        })
    }

    fn authorize_url(&self) -> String {
        let mut url = self.authorize.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid profile email")
            .append_pair("state", "bench-state")
            .append_pair("nonce", "bench-nonce")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }

    async fn token(&self, http: &reqwest::Client, form: &[(&str, &str)]) -> Result<Value, String> {
        let response = http
            .post(&self.token)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("/token {status}: {body}"));
        }
        Ok(body)
    }

    async fn redeem(&self, http: &reqwest::Client, code: &str) -> Result<Value, String> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        self.token(http, &form).await
    }
}

/// What one worker holds between its steps.
pub struct Worker {
    pub http: reqwest::Client,
    pub jar: Jar,
    pub rut: String,
    pub refresh: String,
    pub codes: Vec<String>,
    pub bearer: String,
    pub csrf: String,
}

impl Worker {
    fn new() -> Self {
        Self {
            http: client(),
            jar: Jar::default(),
            rut: String::new(),
            refresh: String::new(),
            codes: Vec::new(),
            bearer: String::new(),
            csrf: String::new(),
        }
    }
}

/// Signs a new browser in at CUS's `/Account` (no pending request): its cookie jar.
async fn signed_in(target: &Target, rut: &str) -> anyhow::Result<Jar> {
    let http = client();
    let mut jar = Jar::default();
    let page = http.get(format!("{}/Account", target.base)).send().await?;
    jar.store(&page);
    let csrf = input_value(&page.text().await?, "csrf").context("csrf on /Account")?;
    let form = [
        ("csrf", csrf.as_str()),
        ("rid", ""),
        ("rut", rut),
        ("cus", SECRET),
    ];
    let done = jar
        .attach(http.post(format!("{}/Account", target.base)).form(&form))
        .send()
        .await?;
    jar.store(&done);
    if done.status() != 200 {
        bail!("login of {rut} answered {}", done.status());
    }
    Ok(jar)
}

/// `count` codes issued at once to signed-in browsers (single sign-on), by `workers`
/// connections in parallel, each its own browser and account (one session collecting
/// thousands of sign-ins would measure that session, not the flow).
pub async fn codes(
    target: &Arc<Target>,
    count: usize,
    workers: usize,
) -> anyhow::Result<Vec<Vec<String>>> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let target = Arc::clone(target);
        let share = count / workers + usize::from(w < count % workers);
        tasks.spawn(async move {
            let rut = target
                .accounts
                .get(w % target.accounts.len().max(1))
                .context("no account")?;
            let jar = signed_in(&target, rut).await?;
            let http = client();
            let mut codes = Vec::with_capacity(share);
            for _ in 0..share {
                let response = jar.attach(http.get(target.authorize_url())).send().await?;
                let to =
                    location(&response, &target.base).context("no redirect from /authorize")?;
                codes.push(query_param(&to, "code").with_context(|| format!("no code in {to}"))?);
            }
            anyhow::Ok(codes)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.push(done??);
    }
    Ok(all)
}

/// The workers of scenario `n` (1–9) on `target`, ready to send, for the `round`-th run
/// of it. `codes_per_worker` is what scenario 7 pre-issues.
pub async fn prepare(
    target: &Arc<Target>,
    n: usize,
    workers: usize,
    round: usize,
    codes_per_worker: usize,
) -> anyhow::Result<Vec<Worker>> {
    let mut out: Vec<Worker> = (0..workers).map(|_| Worker::new()).collect();
    match (n, &target.peer_tokens) {
        (4, Some(tokens)) => {
            // Each round its own chains: the previous round's tokens were rotated away.
            let chains = tokens["refresh_tokens"]
                .as_array()
                .context("refresh_tokens")?;
            let fresh = chains.iter().skip(round * workers);
            for (w, rt) in out.iter_mut().zip(fresh) {
                w.refresh = rt.as_str().context("refresh token")?.to_owned();
            }
        }
        (5 | 6, Some(tokens)) => {
            let key = if n == 5 {
                "userinfo_access_token"
            } else {
                "introspect_token"
            };
            let token = tokens[key].as_str().context("peer token")?;
            out.iter_mut().for_each(|w| w.bearer = token.to_owned());
        }
        (4..=6, None) => {
            let issued = codes(target, if n == 4 { workers } else { 1 }, 1)
                .await?
                .concat();
            let mut answers = Vec::new();
            for code in &issued {
                answers.push(
                    target
                        .redeem(&out[0].http, code)
                        .await
                        .map_err(anyhow::Error::msg)?,
                );
            }
            for (i, w) in out.iter_mut().enumerate() {
                let answer = &answers[if n == 4 { i } else { 0 }];
                w.refresh = answer["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                w.bearer = answer["access_token"]
                    .as_str()
                    .context("access_token")?
                    .to_owned();
            }
        }
        (7, None) => {
            for (w, codes) in out
                .iter_mut()
                .zip(codes(target, codes_per_worker * workers, workers).await?)
            {
                w.codes = codes;
            }
        }
        (8, None) => {
            for (i, w) in out.iter_mut().enumerate() {
                w.rut = target.accounts[i % target.accounts.len()].clone();
            }
        }
        (9, None) => {
            for w in &mut out {
                let page = w
                    .http
                    .get(format!("{}/natural/registro", target.base))
                    .send()
                    .await?;
                w.jar.store(&page);
                w.csrf = input_value(&page.text().await?, "csrf")
                    .context("csrf on /natural/registro")?;
            }
        }
        (1..=3, _) => {}
        _ => bail!("scenario {n} does not run on {}", target.label),
    }
    Ok(out)
}

/// One step of scenario `n`.
pub async fn step(target: &Target, n: usize, w: &mut Worker) -> Step {
    let result = match n {
        1 => get_ok(&w.http, &target.discovery).await,
        2 => get_ok(&w.http, &target.jwks).await,
        3 => target
            .token(&w.http, &[("grant_type", "client_credentials")])
            .await
            .map(drop),
        4 => refresh(target, w).await,
        5 => userinfo(target, w).await,
        6 => introspect(target, w).await,
        7 => match w.codes.pop() {
            Some(code) => target.redeem(&w.http, &code).await.map(drop),
            None => return Step::Exhausted,
        },
        8 => browser_login(target, w).await,
        9 => register(target, w).await,
        _ => Err(format!("no scenario {n}")),
    };
    match result {
        Ok(()) => Step::Ok,
        Err(e) => Step::Failed(e),
    }
}

async fn get_ok(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("GET {url}: {status}"));
    }
    Ok(())
}

async fn refresh(target: &Target, w: &mut Worker) -> Result<(), String> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", w.refresh.as_str()),
    ];
    let answer = target.token(&w.http, &form).await?;
    w.refresh = answer["refresh_token"]
        .as_str()
        .ok_or("no rotated refresh_token")?
        .to_owned();
    Ok(())
}

async fn userinfo(target: &Target, w: &mut Worker) -> Result<(), String> {
    let response = w
        .http
        .get(&target.userinfo)
        .bearer_auth(&w.bearer)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status != 200 || body["sub"].is_null() {
        return Err(format!("userinfo {status}: {body}"));
    }
    Ok(())
}

async fn introspect(target: &Target, w: &mut Worker) -> Result<(), String> {
    let response = w
        .http
        .post(&target.introspect)
        .basic_auth(&target.client_id, Some(&target.client_secret))
        .form(&[("token", w.bearer.as_str())])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if body["active"] != Value::Bool(true) {
        return Err(format!("introspection: {body}"));
    }
    Ok(())
}

/// GET /authorize → the login page → POST /Account → redirects to the callback → /token,
/// from an empty cookie jar (a new browser: no single sign-on).
async fn browser_login(target: &Target, w: &mut Worker) -> Result<(), String> {
    let e = |e: reqwest::Error| e.to_string();
    w.jar.clear();
    let mut next = target.authorize_url();
    for _ in 0..8 {
        if next.starts_with(REDIRECT) {
            let code = query_param(&next, "code").ok_or_else(|| format!("no code in {next}"))?;
            return target.redeem(&w.http, &code).await.map(drop);
        }
        let response = w.jar.attach(w.http.get(&next)).send().await.map_err(e)?;
        w.jar.store(&response);
        if response.status().is_redirection() {
            next = location(&response, &target.base).ok_or("redirect without Location")?;
            continue;
        }
        let page = response.text().await.map_err(e)?;
        if !page.contains("action=\"/Account\"") {
            return Err(format!("unexpected page at {next}"));
        }
        let csrf = input_value(&page, "csrf").ok_or("no csrf")?;
        let rid = input_value(&page, "rid").unwrap_or_default();
        let form = [
            ("csrf", csrf.as_str()),
            ("rid", &rid),
            ("rut", &w.rut),
            ("cus", SECRET),
        ];
        let posted = w
            .jar
            .attach(w.http.post(format!("{}/Account", target.base)).form(&form))
            .send()
            .await
            .map_err(e)?;
        w.jar.store(&posted);
        if !posted.status().is_redirection() {
            return Err(format!("POST /Account answered {}", posted.status()));
        }
        next = location(&posted, &target.base).ok_or("redirect without Location")?;
    }
    Err("too many redirects".into())
}

/// "Regístrese" of a persona natural with a new valid RUT.
async fn register(target: &Target, w: &mut Worker) -> Result<(), String> {
    let body = target.next_rut.fetch_add(1, Ordering::Relaxed);
    let rut = format!("{body}-{}", cus_core::rut::check_digit(body));
    let email = format!("persona{body}@example.cl");
    let celular = format!("{}", 90_000_000 + body % 10_000_000);
    let form = [
        ("csrf", w.csrf.as_str()),
        ("captcha_id", "bench"),
        ("captcha", CAPTCHA_ANSWER),
        ("rut", &rut),
        ("nombres", "Juan Andrés"),
        ("apellido_paterno", "Pérez"),
        ("apellido_materno", "Soto"),
        ("pregunta", "2"),
        ("respuesta", "Escuela República de Chile"),
        ("calle", "Avenida Matta"),
        ("numero", "455"),
        ("block", ""),
        ("departamento", "32"),
        ("region", "13"),
        ("comuna", "13101"),
        ("email", &email),
        ("telefono_particular", "22 555 1234"),
        ("telefono_trabajo", ""),
        ("celular", &celular),
        ("cus", SECRET),
        ("cus_repetida", SECRET),
        ("action", "registrar"),
    ];
    let url = format!("{}/natural/registro", target.base);
    let response = w
        .jar
        .attach(w.http.post(url).form(&form))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let page = response.text().await.map_err(|e| e.to_string())?;
    if status != 200 || !page.contains("Registro exitoso") {
        return Err(format!("registration of {rut} answered {status}"));
    }
    Ok(())
}
