//! One error for both surfaces: an HTTP status, a stable kind and a message that says
//! what to do. HTTP returns it as `{"error": {"kind", "message"}}`; MCP as a tool error
//! the agent reads.

use brain::BrainError;
use memory_core::ErrorKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A request that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable name: `unauthorized`, `forbidden`, `not_found`, `invalid_input`,
    /// `method_not_allowed`, `not_acceptable`,
    /// `payload_too_large`, `unsupported_media_type`, `conflict`, `not_configured`, `unavailable`, `internal`.
    pub kind: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 401: no token, or not a known one.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    /// 403: the token may not reach this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 404: no such record within reach.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// 400: the input was rejected; nothing was written.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_input", message)
    }

    /// 413: the body is larger than `serve.max_body_bytes`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "payload_too_large", message)
    }

    /// 415: the body is not JSON.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "unsupported_media_type", message)
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "method_not_allowed", message)
    }

    /// 406: the client does not accept what this endpoint answers with.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "not_acceptable", message)
    }

    /// 503: a backend is out of reach; retrying may help.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// 500: a failure that is not the caller's.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }
}

impl From<BrainError> for ApiError {
    fn from(e: BrainError) -> Self {
        if let BrainError::Llm(brain::llm_router::LlmError::NotConfigured) = &e {
            return Self::new(503, "not_configured", e.to_string());
        }
        let message = e.to_string();
        match e.kind() {
            ErrorKind::NotFound => Self::not_found(message),
            ErrorKind::InvalidInput => Self::invalid(message),
            ErrorKind::Conflict => Self::new(409, "conflict", message),
            ErrorKind::Unavailable => Self::unavailable(message),
            _ => Self::internal(message),
        }
    }
}

impl From<memory_core::ValidationError> for ApiError {
    fn from(e: memory_core::ValidationError) -> Self {
        Self::invalid(e.to_string())
    }
}

/// The JSON body of an HTTP error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable name (`unauthorized`, `forbidden`, `not_found`, `invalid_input`,
    /// `method_not_allowed`, `not_acceptable`,
    /// `payload_too_large`, `unsupported_media_type`, `conflict`, `not_configured`, `unavailable`, `internal`).
    pub kind: String,
    /// What went wrong and what to do.
    pub message: String,
}

impl From<&ApiError> for ErrorBody {
    fn from(e: &ApiError) -> Self {
        ErrorBody {
            error: ErrorDetail {
                kind: e.kind.to_owned(),
                message: e.message.clone(),
            },
        }
    }
}
