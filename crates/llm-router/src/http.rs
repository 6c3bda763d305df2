//! What every HTTP provider shares: turning statuses, headers and bodies into typed
//! errors, reading `Retry-After`, and splitting streamed bodies into lines.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::error::LlmError;

/// The longest server message kept in an error.
const MAX_MESSAGE: usize = 500;

/// Settings shared by the HTTP providers.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Connection timeout. The whole call's timeout is a layer
    /// ([`crate::layers::TimeoutLayer`]), not a client setting, so streams are not cut.
    pub connect_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A reqwest client with the shared settings.
pub fn client(options: &HttpOptions) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build an HTTP client: {e}")))
}

/// How long the server asked us to wait: `retry-after-ms` (OpenAI, Azure), else
/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    parse_retry_after(value, SystemTime::now())
}

/// Parses a `Retry-After` value (delay-seconds, fractional accepted, or an HTTP date)
/// relative to `now`. A date in the past is a zero wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && (0.0..1e9).contains(&secs))
            .then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The human part of an error body: `error.message`, `error` as a string, `message`,
/// or the start of the text.
pub fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    truncate(from_json.as_deref().unwrap_or(body).trim())
}

/// `text` cut to at most [`MAX_MESSAGE`] bytes on a character boundary.
pub fn truncate(text: &str) -> String {
    if text.len() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Maps a non-success HTTP answer to a typed error.
///
/// 429 and Anthropic's 529 are rate limits; 401/403 refused credentials; 404, or a 400
/// whose message says the model does not exist, an unknown model; 5xx a server failure;
/// other 4xx an invalid request.
pub fn status_error(
    provider: &str,
    model: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> LlmError {
    let message = error_message(body);
    let code = status.as_u16();
    let lower = body.to_ascii_lowercase();
    let names_missing_model = lower.contains("model_not_found")
        || (lower.contains("model")
            && (lower.contains("not found") || lower.contains("does not exist")));
    match code {
        429 | 529 => LlmError::RateLimited {
            provider: provider.to_owned(),
            retry_after: retry_after(headers),
        },
        401 | 403 => LlmError::Unauthorized {
            provider: provider.to_owned(),
            status: code,
            message,
        },
        404 => LlmError::UnknownModel {
            provider: provider.to_owned(),
            model: model.to_owned(),
            message,
        },
        400 | 422 if names_missing_model => LlmError::UnknownModel {
            provider: provider.to_owned(),
            model: model.to_owned(),
            message,
        },
        500..=599 => LlmError::Server {
            provider: provider.to_owned(),
            status: code,
            message,
        },
        _ => LlmError::InvalidRequest {
            provider: provider.to_owned(),
            status: code,
            message,
        },
    }
}

/// Maps a reqwest failure: timeouts to [`LlmError::Timeout`], a body that would not
/// decode to [`LlmError::Malformed`], everything else to [`LlmError::Transport`].
pub fn transport_error(provider: &str, e: reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            provider: provider.to_owned(),
            after: Duration::ZERO,
            stage: "call",
        }
    } else if e.is_decode() {
        LlmError::Malformed {
            provider: provider.to_owned(),
            message: e.to_string(),
        }
    } else {
        // Without the URL: it may carry a deployment name, and never needs to be logged twice.
        LlmError::Transport {
            provider: provider.to_owned(),
            message: e.without_url().to_string(),
        }
    }
}

/// A JSON body that did not parse as the protocol says: [`LlmError::Malformed`] with the
/// parser's message and the start of the body.
pub fn malformed(provider: &str, e: &serde_json::Error, body: &[u8]) -> LlmError {
    LlmError::Malformed {
        provider: provider.to_owned(),
        message: format!(
            "{e}; body starts {:?}",
            truncate(&String::from_utf8_lossy(body))
        ),
    }
}

/// Sends a request and returns the response if its status is a success, else the typed
/// error built from its status, headers and body.
pub async fn send(
    provider: &str,
    model: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, LlmError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Err(status_error(provider, model, status, &headers, &body))
}

/// Splits a byte stream into complete lines (without their `\n`, `\r\n` trimmed), for
/// NDJSON protocols. A line may span chunks, and so may a UTF-8 character; invalid
/// UTF-8 is an error, not a skipped chunk. A final line without a newline is kept.
pub fn lines<S>(
    provider: &str,
    body: S,
) -> impl Stream<Item = Result<String, LlmError>> + Send + use<S>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + Unpin,
{
    let provider = provider.to_owned();
    futures_util::stream::unfold(
        (body, Vec::<u8>::new(), false),
        move |(mut body, mut buf, mut done)| {
            let provider = provider.clone();
            async move {
                loop {
                    if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                        let mut line: Vec<u8> = buf.drain(..=pos).collect();
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        return Some((utf8(&provider, line), (body, buf, done)));
                    }
                    if done {
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            return None;
                        }
                        let line = std::mem::take(&mut buf);
                        return Some((utf8(&provider, line), (body, buf, done)));
                    }
                    match body.next().await {
                        Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                        Some(Err(e)) => {
                            done = true;
                            buf.clear();
                            return Some((Err(transport_error(&provider, e)), (body, buf, done)));
                        }
                        None => done = true,
                    }
                }
            }
        },
    )
}

fn utf8(provider: &str, line: Vec<u8>) -> Result<String, LlmError> {
    String::from_utf8(line).map_err(|e| LlmError::Malformed {
        provider: provider.to_owned(),
        message: format!("a streamed line is not UTF-8: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let h = HeaderMap::new();
        let e = |code: u16, body: &str| {
            status_error(
                "p",
                "m",
                StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
                &h,
                body,
            )
        };
        assert!(matches!(e(429, ""), LlmError::RateLimited { .. }));
        assert!(matches!(e(529, ""), LlmError::RateLimited { .. }));
        assert!(matches!(e(401, ""), LlmError::Unauthorized { .. }));
        assert!(matches!(e(404, "{}"), LlmError::UnknownModel { .. }));
        assert!(matches!(
            e(
                400,
                r#"{"error":{"message":"The model `x` does not exist"}}"#
            ),
            LlmError::UnknownModel { .. }
        ));
        assert!(matches!(
            e(400, r#"{"error":"bad temperature"}"#),
            LlmError::InvalidRequest { .. }
        ));
        assert!(matches!(
            e(503, "busy"),
            LlmError::Server { status: 503, .. }
        ));
        assert_eq!(error_message(r#"{"error":{"message":"nope"}}"#), "nope");
        assert_eq!(error_message(r#"{"error":"gone"}"#), "gone");
        assert_eq!(error_message("plain"), "plain");
    }

    #[tokio::test]
    async fn lines_span_chunks_and_characters() {
        let chunks: Vec<Result<Bytes, reqwest::Error>> = vec![
            Ok(Bytes::from_static(b"{\"a\":")),
            Ok(Bytes::from_static(b"1}\n{\"b\":\"\xc3")),
            Ok(Bytes::from_static(b"\xa9\"}\r\n\n{\"c\":3}")),
        ];
        let got: Vec<_> = lines("p", futures_util::stream::iter(chunks))
            .collect()
            .await;
        let got: Vec<String> = got.into_iter().filter_map(|r| r.ok()).collect();
        assert_eq!(got, vec!["{\"a\":1}", "{\"b\":\"é\"}", "{\"c\":3}"]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_an_error() {
        let chunks: Vec<Result<Bytes, reqwest::Error>> =
            vec![Ok(Bytes::from_static(b"\xff\xfe\n"))];
        let got: Vec<_> = lines("p", futures_util::stream::iter(chunks))
            .collect()
            .await;
        assert!(matches!(got.as_slice(), [Err(LlmError::Malformed { .. })]));
    }
}
