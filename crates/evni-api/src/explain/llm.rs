//! An OpenAI-compatible chat-completions client. The model sees only the
//! grounded fact lines (no identifiers, no raw meter values) and the draft
//! built from them; its reply is used only if it arrives in time and every
//! number in it is one of the facts' numbers.

use std::time::Duration;

use evni_explain::Grounded;
use serde_json::{json, Value};

use super::Task;

/// Where and how to reach the model. `Debug` never prints the API key.
#[derive(Clone)]
pub struct LlmConfig {
    /// Base URL (`http://localhost:11434/v1`) or the full
    /// `.../chat/completions` endpoint.
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    /// Trusted for an https endpoint besides the built-in (Mozilla) roots.
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LlmConfig {
    /// The chat-completions endpoint.
    pub fn endpoint(&self) -> String {
        let url = self.url.trim_end_matches('/');
        if url.ends_with("/chat/completions") {
            url.to_string()
        } else {
            format!("{url}/chat/completions")
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LlmError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Http(String),
    #[error("unexpected response: {0}")]
    Response(String),
    #[error("the reply holds a number that is not in the facts: {0}")]
    Ungrounded(String),
}

pub(crate) struct LlmClient {
    config: LlmConfig,
    http: reqwest::Client,
}

const SYSTEM: &str = "You write for operators of EV charging stations and their support staff, \
who may forward your text to drivers. Use only the facts you are given. Never add a number, time, \
cause or event that is not in the facts; keep every number and unit exactly as given. If the facts \
do not answer the question, say plainly that it can't be told from this session's data. \
Plain English, short paragraphs, no markdown headings.";

impl LlmClient {
    pub(crate) fn new(config: LlmConfig) -> Self {
        let mut builder = reqwest::Client::builder().timeout(config.timeout);
        for root in &config.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let http = builder.build().unwrap_or_default();
        Self { config, http }
    }

    pub(crate) async fn word(&self, task: &Task<'_>, grounded: &Grounded) -> Result<String, LlmError> {
        let prompt = prompt(task, grounded);
        let body = json!({
            "model": self.config.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt},
            ],
        });
        let mut request = self.http.post(self.config.endpoint()).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let timeout = self.config.timeout;
        let call = async {
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() {
                    LlmError::Timeout(timeout)
                } else {
                    LlmError::Http(e.without_url().to_string())
                }
            })?;
            let status = response.status();
            if !status.is_success() {
                return Err(LlmError::Http(format!("status {status}")));
            }
            response
                .json::<Value>()
                .await
                .map_err(|e| LlmError::Response(e.without_url().to_string()))
        };
        let reply = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| LlmError::Timeout(timeout))??;
        let text = reply
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| LlmError::Response("no choices[0].message.content".into()))?;
        let context = format!("{prompt}\n{SYSTEM}");
        if let Some(number) = ungrounded_number(text, &context) {
            return Err(LlmError::Ungrounded(number));
        }
        Ok(text.to_string())
    }
}

/// The user message: the facts, the grounded draft and the task.
fn prompt(task: &Task<'_>, grounded: &Grounded) -> String {
    let facts: String = grounded.facts.iter().map(|f| format!("- {f}\n")).collect();
    let instruction = match task {
        Task::Explain => "Task: explain this session to a charge point operator: what happened, where in the \
                          session (times), how much energy or power was involved, the likely causes to check, \
                          whether it recurs at this station and what to do next. Rewrite the draft more clearly; \
                          do not add anything."
            .to_string(),
        Task::Ask(question) => format!(
            "Question from the operator: {question}\n\nTask: answer the question from the facts only, briefly. \
             The draft answer is correct; improve its wording, do not add anything."
        ),
    };
    format!(
        "Facts about one EV charging session (times in UTC):\n{facts}\nDraft:\n{}\n\n{instruction}",
        grounded.text
    )
}

/// Numbers written in `text` (digits with an optional decimal part).
fn numbers(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

/// The first number of `reply` that is not one of `context`'s numbers, up
/// to the rounding its own decimals allow (11.18 may be written 11.2).
fn ungrounded_number(reply: &str, context: &str) -> Option<String> {
    let known: Vec<f64> = numbers(context).iter().filter_map(|n| n.parse().ok()).collect();
    numbers(reply).into_iter().find_map(|n| {
        let value: f64 = n.parse().ok()?;
        let decimals = n.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
        let tolerance = 0.5 * 10f64.powi(-decimals) + 1e-9;
        (!known.iter().any(|k| (k - value).abs() <= tolerance)).then(|| n.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_come_from_the_context() {
        let context = "11.183 kWh at 10:15 UTC, 48213.7 kWh";
        assert_eq!(ungrounded_number("About 11.2 kWh at 10:15.", context), None);
        assert_eq!(ungrounded_number("About 11 kWh.", context), None);
        assert_eq!(ungrounded_number("Register 48213.7 kWh.", context), None);
        assert_eq!(
            ungrounded_number("It cost 4.50 EUR.", context),
            Some("4.50".into())
        );
        assert_eq!(ungrounded_number("At 10:45.", context), Some("45".into()));
    }

    #[test]
    fn the_endpoint_accepts_a_base_or_a_full_url() {
        let config = |url: &str| LlmConfig {
            url: url.into(),
            model: "m".into(),
            api_key: Some("secret-key".into()),
            timeout: Duration::from_secs(1),
            extra_roots: Vec::new(),
        };
        assert_eq!(
            config("http://h:1/v1/").endpoint(),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            config("http://h:1/v1/chat/completions").endpoint(),
            "http://h:1/v1/chat/completions"
        );
        assert!(!format!("{:?}", config("http://h")).contains("secret-key"));
    }
}
