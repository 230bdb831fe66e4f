//! Delivering the outbox's text messages. A sender is an adapter: the embedded default writes
//! each message to the log (the demo's one-time codes are read from there), and the HTTP
//! gateway POSTs it to a URL the operator configures. Failed sends are retried by the store's
//! backoff; in-app messages need no sender.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use serde_json::json;
use zhucan_store::{OutgoingSms, Store};

/// Attempts per message before it is marked failed.
const MAX_ATTEMPTS: i64 = 5;
/// Messages taken per pass.
const BATCH: i64 = 50;
/// Time a gateway has to answer one message; the store's sending lease is longer.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers one text message; `Err` carries what goes into the outbox's last error.
pub trait SmsSender: Send + Sync + 'static {
    fn send(&self, sms: &OutgoingSms) -> impl Future<Output = Result<(), String>> + Send;
}

/// The embedded default: the message goes to the log. Several server instances may each log
/// a message they both took; the store's claim keeps that to lease expiries.
pub struct LogSender;

impl SmsSender for LogSender {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), String> {
        tracing::info!(channel = "sms", to = %sms.phone.masked(), body = %sms.body, "notification sent (log sender)");
        Ok(())
    }
}

/// Where the SMS gateway listens: an `http` or `https` URL. It may hold a token in its path or
/// query, so only its scheme, host and port are ever printed.
#[derive(Clone)]
pub struct GatewayUrl(reqwest::Url);

impl FromStr for GatewayUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<GatewayUrl, String> {
        let url = reqwest::Url::parse(s)
            .map_err(|e| format!("the SMS gateway URL does not parse: {e}"))?;
        match (url.scheme(), url.host_str()) {
            ("http" | "https", Some(_)) => Ok(GatewayUrl(url)),
            _ => Err("the SMS gateway URL must be http:// or https:// with a host".into()),
        }
    }
}

impl fmt::Display for GatewayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.0;
        write!(f, "{}://{}", u.scheme(), u.host_str().unwrap_or_default())?;
        if let Some(port) = u.port() {
            write!(f, ":{port}")?;
        }
        f.write_str("/…")
    }
}

impl fmt::Debug for GatewayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayUrl({self})")
    }
}

/// POSTs `{"id": "…", "phone": "…", "text": "…"}` to the gateway; any 2xx answer is delivery,
/// anything else (another status, a network error, no answer in time) a failed attempt. A retry
/// carries the same id, so a gateway can drop a text it already sent when only its answer was lost.
pub struct HttpGateway {
    url: GatewayUrl,
    client: reqwest::Client,
}

impl HttpGateway {
    pub fn new(url: GatewayUrl) -> reqwest::Result<HttpGateway> {
        Ok(HttpGateway {
            url,
            client: reqwest::Client::builder()
                .timeout(GATEWAY_TIMEOUT)
                .build()?,
        })
    }
}

impl SmsSender for HttpGateway {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), String> {
        let response = self
            .client
            .post(self.url.0.clone())
            .json(&json!({ "id": sms.id, "phone": sms.phone.as_str(), "text": sms.body }))
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// The error and its causes ("error sending request: tcp connect error: Connection refused"),
/// without the URL, which may carry a secret.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One pass: sends every due text message through `sender` and records each outcome.
/// Returns how many were sent.
pub async fn deliver_due(store: &Store, sender: &impl SmsSender) -> zhucan_store::Result<usize> {
    let mut sent = 0;
    for sms in store.claim_due_sms(BATCH).await? {
        let outcome = sender.send(&sms).await;
        if let Err(e) = &outcome {
            tracing::warn!(id = %sms.id, attempt = sms.attempts + 1, error = %e, "text message not sent");
        } else {
            sent += 1;
        }
        store
            .mark_notification(&sms.id, outcome.err().as_deref(), MAX_ATTEMPTS)
            .await?;
    }
    Ok(sent)
}

/// Delivers forever, a pass a second (one-time codes should arrive at once).
pub async fn deliver_forever(store: Store, sender: impl SmsSender) {
    loop {
        if let Err(e) = deliver_due(&store, &sender).await {
            tracing::warn!(error = %e, "delivering the outbox");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
