//! Explain and Ask: the grounded text of `evni-explain`, optionally
//! reworded by an OpenAI-compatible model, behind a per-tenant rate limit.

mod llm;
mod rate;

use std::time::Duration;

use evni_explain::Grounded;
use evni_store::TenantId;
use serde::Serialize;
use utoipa::ToSchema;

use llm::LlmClient;
pub use llm::LlmConfig;
use rate::RateLimiter;

use crate::error::ApiError;

/// Settings of the Explain and Ask endpoints.
#[derive(Debug, Clone)]
pub struct ExplainConfig {
    /// A chat-completions endpoint for richer wording; `None` keeps tenant
    /// data in the process and answers with the grounded text.
    pub llm: Option<LlmConfig>,
    /// Explain + Ask calls per tenant and minute (a token bucket per tenant,
    /// in this process's memory).
    pub rate_per_minute: u32,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        Self {
            llm: None,
            rate_per_minute: 60,
        }
    }
}

/// Which part wrote the text a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Built from the session's data by evni itself.
    Grounded,
    /// Reworded by the configured language model from the grounded facts.
    Llm,
}

/// What the model is asked to do.
pub(crate) enum Task<'a> {
    Explain,
    Ask(&'a str),
}

/// Shared by the Explain and Ask handlers.
pub struct Explainer {
    llm: Option<LlmClient>,
    limiter: RateLimiter,
}

impl Explainer {
    pub fn new(config: ExplainConfig) -> Self {
        Self {
            llm: config.llm.map(LlmClient::new),
            limiter: RateLimiter::new(config.rate_per_minute),
        }
    }

    /// Takes one call from the tenant's allowance, or answers 429.
    pub(crate) fn admit(&self, tenant: TenantId) -> Result<(), ApiError> {
        self.limiter.admit(tenant).map_err(|wait| {
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::TooManyRequests {
                message: format!(
                    "explain/ask rate limit of {} calls per minute reached; retry in {retry_after} s",
                    self.limiter.per_minute()
                ),
                retry_after: retry_after.max(1),
            }
        })
    }

    /// The text to return: the model's wording when one is configured and
    /// answers in time with nothing but grounded numbers, else the grounded
    /// text.
    pub(crate) async fn word(&self, task: Task<'_>, grounded: &Grounded) -> (String, Source) {
        let Some(llm) = &self.llm else {
            return (grounded.text.clone(), Source::Grounded);
        };
        match llm.word(&task, grounded).await {
            Ok(text) => (text, Source::Llm),
            Err(e) => {
                tracing::warn!(error = %e, "LLM wording failed; answering with the grounded text");
                (grounded.text.clone(), Source::Grounded)
            }
        }
    }
}

impl Default for Explainer {
    fn default() -> Self {
        Self::new(ExplainConfig::default())
    }
}

/// Default time a model may take.
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(10);
