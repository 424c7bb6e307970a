//! Bearer tokens: HS256 JWTs that carry the tenant and a scope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;
use evni_store::{StoreError, Tenant};

/// What a token may do. Each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The tenant's id.
    pub sub: Uuid,
    /// The tenant's name, for humans reading a token.
    pub tenant: String,
    pub scope: Scope,
    pub iat: i64,
    pub exp: i64,
    /// Not valid before (optional; honoured when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id: what `evni token revoke` names. Required: a token without
    /// one could not be revoked, so it is refused.
    pub jti: Uuid,
}

/// What a verified token grants, remembered so that a client sending the
/// same token on every request pays for the signature check once.
#[derive(Debug, Clone, Copy)]
struct Grant {
    tenant: Uuid,
    scope: Scope,
    exp: i64,
    jti: Uuid,
}

/// Tokens remembered as verified; beyond, the least used are checked again.
const VERIFIED_TOKENS: usize = 10_000;
/// Seconds of clock skew allowed on `exp` and `nbf`.
const LEEWAY: i64 = 5;

/// The signing key. Its `Debug` never prints the secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    verified: quick_cache::sync::Cache<String, Grant>,
    /// Key of [`JwtKeys::tag`], derived from the secret so every API process
    /// of one deployment agrees on it.
    tag_key: [u8; 32],
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<secret>)")
    }
}

impl JwtKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
            tag_key: derive_tag_key(secret),
        }
    }

    /// An unforgeable tag of `message` for `purpose` (e.g. the dashboard's
    /// CSRF tokens), base64url; tags of different purposes never collide.
    pub fn tag(&self, purpose: &str, message: &[u8]) -> String {
        use base64::Engine as _;
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(&self.tag_key).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is [`JwtKeys::tag`] of `message`, compared in constant time.
    pub fn check_tag(&self, purpose: &str, message: &[u8], tag: &str) -> bool {
        let expected = self.tag(purpose, message);
        expected.len() == tag.len()
            && expected
                .bytes()
                .zip(tag.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Issues a token for `tenant` valid for `ttl`.
    pub fn issue(&self, tenant: &Tenant, scope: Scope, ttl: std::time::Duration) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: tenant.id,
            tenant: tenant.name.clone(),
            scope,
            iat: now,
            exp: now.saturating_add(ttl.as_secs().min(i64::MAX as u64) as i64),
            nbf: None,
            jti: Uuid::new_v4(),
        };
        self.sign_claims(&claims)
    }

    /// Signs any claims with the service key (tokens with custom lifetimes,
    /// tests).
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("cannot sign token: {e}")))
    }

    /// The tenant and scope `token` grants, if it is valid now.
    fn grant(&self, token: &str) -> Result<Grant, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(grant) = self.verified.get(token) {
            if now <= grant.exp.saturating_add(LEEWAY) {
                return Ok(grant);
            }
            self.verified.remove(token);
        }
        let claims = self.verify(token)?;
        let grant = Grant {
            tenant: claims.sub,
            scope: claims.scope,
            exp: claims.exp,
            jti: claims.jti,
        };
        self.verified.insert(token.to_owned(), grant);
        Ok(grant)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY as u64;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        self.decode(token, &validation)
    }

    /// The id of a token signed with this key, expired or not (for
    /// `evni token revoke TOKEN`).
    pub fn token_id(&self, token: &str) -> Result<Uuid, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["sub"]);
        Ok(self.decode(token, &validation)?.jti)
    }

    fn decode(&self, token: &str, validation: &Validation) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthorized("token has expired".into())
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    ApiError::Unauthorized("token is not valid yet (nbf)".into())
                }
                _ => ApiError::Unauthorized("invalid bearer token".into()),
            })
    }
}

/// A key for tags, separate from the signing key itself.
fn derive_tag_key(secret: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret).expect("any key length");
    mac.update(b"evni tag key");
    mac.finalize().into_bytes().into()
}

/// The caller: its tenant and what its token may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub scope: Scope,
}

impl Caller {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scope >= scope {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token has scope '{}'; this call needs '{}'",
                self.scope.as_str(),
                scope.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer <token> header".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("Authorization header must be 'Bearer <token>'".into()))?;
        let grant = state.keys.grant(token)?;
        state.access.check(grant.jti, grant.tenant).await?;
        let tenant = state
            .engine
            .tenants
            .get(grant.tenant)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => {
                    ApiError::Unauthorized("the token's tenant no longer exists".into())
                }
                other => other.into(),
            })?;
        crate::observe::record_tenant(&tenant.name);
        Ok(Caller {
            tenant,
            scope: grant.scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_token(exp_in: i64) -> (JwtKeys, String) {
        keys_and_token_with(exp_in, None)
    }

    fn keys_and_token_with(exp_in: i64, nbf_in: Option<i64>) -> (JwtKeys, String) {
        let keys = JwtKeys::from_secret(&[1u8; 32]);
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: Uuid::new_v4(),
            tenant: "t".into(),
            scope: Scope::Write,
            iat: now,
            exp: now + exp_in,
            nbf: nbf_in.map(|n| now + n),
            jti: Uuid::new_v4(),
        };
        let token = keys.sign_claims(&claims).unwrap();
        (keys, token)
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let (keys, token) = keys_and_token(3600);
        let first = keys.grant(&token).unwrap();
        assert_eq!(keys.verified.len(), 1);
        assert_eq!(keys.grant(&token).unwrap().tenant, first.tenant);

        // A remembered grant past its expiry is not used: the token is checked again.
        keys.verified.insert(
            token.clone(),
            Grant {
                exp: chrono::Utc::now().timestamp() - LEEWAY - 1,
                ..first
            },
        );
        assert!(keys.grant(&token).is_ok(), "the token itself is still valid");
        assert!(keys.verified.get(&token).unwrap().exp > chrono::Utc::now().timestamp());
    }

    #[test]
    fn a_tag_holds_only_for_its_message_and_purpose() {
        let keys = JwtKeys::from_secret(&[1u8; 32]);
        let tag = keys.tag("csrf", b"session");
        assert!(keys.check_tag("csrf", b"session", &tag));
        assert!(!keys.check_tag("csrf", b"other", &tag));
        assert!(!keys.check_tag("link", b"session", &tag));
        assert!(!JwtKeys::from_secret(&[2u8; 32]).check_tag("csrf", b"session", &tag));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let (keys, token) = keys_and_token(-LEEWAY - 5);
        assert!(keys.grant(&token).is_err());
    }

    #[test]
    fn a_forged_token_is_never_remembered() {
        let (_, token) = keys_and_token(3600);
        let keys = JwtKeys::from_secret(&[2u8; 32]);
        assert!(keys.grant(&token).is_err());
        assert_eq!(keys.verified.len(), 0);
    }

    const _: () = assert!(LEEWAY <= 5, "issue 16: at most 5 s of leeway");

    #[test]
    fn expiry_has_at_most_five_seconds_of_leeway() {
        // Expired 10 s ago: refused (it was accepted for up to 60 s before).
        let (keys, token) = keys_and_token(-10);
        let refused = keys.grant(&token).unwrap_err();
        assert!(refused.to_string().contains("expired"), "{refused}");
        // Expired 2 s ago: within the leeway.
        let (keys, token) = keys_and_token(-2);
        assert!(keys.grant(&token).is_ok());
    }

    #[test]
    fn not_before_is_honoured() {
        let (keys, token) = keys_and_token_with(3600, Some(60));
        let refused = keys.grant(&token).unwrap_err();
        assert!(refused.to_string().contains("not valid yet"), "{refused}");
        assert_eq!(keys.verified.len(), 0);
        let (keys, token) = keys_and_token_with(3600, Some(-1));
        assert!(keys.grant(&token).is_ok());
    }

    #[test]
    fn a_token_without_an_id_is_refused_and_an_expired_one_still_names_its_id() {
        let keys = JwtKeys::from_secret(&[1u8; 32]);
        let now = chrono::Utc::now().timestamp();
        let no_jti = serde_json::json!({"sub": Uuid::new_v4(), "tenant": "t", "scope": "admin", "iat": now, "exp": now + 60});
        let token = keys.sign_claims(&no_jti).unwrap();
        assert!(keys.grant(&token).is_err());

        let (keys, token) = keys_and_token(-3600);
        assert!(keys.grant(&token).is_err());
        assert!(keys.token_id(&token).is_ok());
        assert!(JwtKeys::from_secret(&[2u8; 32]).token_id(&token).is_err());
    }
}
