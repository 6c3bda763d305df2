//! Rewards in `[-1, 1]` from feedback, outcomes and code quality.
//!
//! The seed rates feedback by asking a model for "only a number between -1 and 1" and reads
//! the answer with `float(response.strip())`, falling back to `0.0` on any other answer, so
//! an unreadable answer is indistinguishable from neutral feedback. Here:
//!
//! # [`parse_reward`]: the model's rating
//!
//! The first number in the answer: `0.8`, `+1`, `-0.5`, `.5`, `Rating: 0.7`, `−0.3`
//! (Unicode minus), `1e-1`. A fraction is divided out (`0.7/1` is 0.7, `8/10` and
//! `8 out of 10` are 0.8), a percentage is over 100 (`80%` is 0.8). Ranges state the scale,
//! not the rating, and are skipped (`from -1 to 1`, `-1 (very negative) to 1`,
//! `between -1 and 1`, `1-10`), as are numbers glued to letters (`gpt4`, `3rd`). The result
//! is clamped to `[-1, 1]` (so a bare `7` reads as 1). No number, a first number that is
//! `NaN` or infinite, or a zero denominator gives `None` — never a silent 0.
//!
//! # [`offline_reward`]: an estimate without a model
//!
//! A deterministic estimate for when there is no model or its answer does not parse:
//!
//! 1. An explicit rating decides alone: the first fraction out of 5, 10 or 100 (`4/5`,
//!    `9/10`, `7 out of 10`; not a date like `3/5/2024`) maps `n/d` to `2n/d - 1`; star
//!    runs (`★★★☆☆`, or two or more `⭐`) map the filled share the same way (five is full
//!    when no empty star is written).
//! 2. Otherwise a lexicon sum: about a hundred English words each weigh from -2 to +2
//!    (`great` +1.5, `perfect` +2, `wrong` -1, `broken` -1.5, `useless` -2, ...), as do
//!    `thumbs up` / `thumbs down` (±2), `+1` / `-1` (±2), 👍 / 👎 (±2), a few other emoji
//!    and `:)` / `:(` (±1). A negator (`not`, `no`, `never`, `without`, any `...n't`, ...)
//!    flips and damps (×-0.75) the next sentiment word within three words in the same
//!    clause, so `not bad` is mildly positive and `didn't work` negative. An intensifier
//!    (`very`, `really`, `extremely`, `so`, ...) multiplies the next sentiment word within two
//!    words by 1.5, a softener (`slightly`, `somewhat`, `kinda`, `a bit`, ...) by 0.5. After
//!    `but` or `however`, words count 1.5× and words before count 0.5×. `more work` and
//!    `needs work` count -0.5.
//! 3. The sum `s` is squashed to `s / sqrt(s² + 4)`: one `good` is 0.45, `great` 0.6,
//!    `perfect` 0.71, `thanks, perfect!` 0.81, `wrong` -0.45, `not good` and
//!    `doesn't compile` -0.35. No sentiment at all is 0.
//!
//! Limits: English only; no sarcasm, no domain knowledge (`the tests are red` is neutral),
//! no grammar beyond the negation window (`it would be great if it worked` is positive),
//! long mixed feedback saturates toward the side with more words. It is an estimate to
//! keep learning going, not a judgement; prefer a model's rating when there is one.
//!
//! # [`combined_reward`]: the seed's three sources in one number
//!
//! The seed's reinforcement learner names three reward sources: user feedback (explicit),
//! task success or failure (implicit) and code quality (automated). Each present source is
//! a value in `[-1, 1]`:
//!
//! - explicit: the given rating clamped to `[-1, 1]` (NaN or infinite counts as absent);
//! - implicit: `+1` on success, `-1` on failure;
//! - quality: `-1` if the build failed; otherwise the test pass rate mapped to `[-1, 1]`
//!   (`2·passed/(passed + failed) − 1`, 0 when no test ran) minus a warning penalty of
//!   [`WARNING_PENALTY`] per lint or build warning, at most [`MAX_WARNING_PENALTY`],
//!   clamped to `[-1, 1]`.
//!
//! The reward is the weighted mean of the present sources, the weights renormalised over
//! them: `Σ wᵢ·xᵢ / Σ wᵢ`. [`RewardWeights`] default to explicit 0.5, implicit 0.3,
//! quality 0.2; a source whose weight is 0 counts as absent. With no source present the
//! result is `None`. The reward is in `[-1, 1]` and non-decreasing in each source (in the
//! rating, in success, in tests passed; non-increasing in tests failed, warnings and a
//! failed build).

use serde::{Deserialize, Serialize};

use crate::number::numbers;
use crate::text::cap_input;

/// Reads a model's rating of feedback (see the [module docs](self)). Total: `Some` holds a
/// finite value in `[-1, 1]`.
pub fn parse_reward(text: &str) -> Option<f64> {
    let n = numbers(cap_input(text)).next()?;
    let v = n.unit_value()?;
    Some(clamp_unit(v))
}

fn clamp_unit(v: f64) -> f64 {
    let v = v.clamp(-1.0, 1.0);
    if v == 0.0 { 0.0 } else { v }
}

fn squash(s: f64) -> f64 {
    if !s.is_finite() {
        return 0.0;
    }
    clamp_unit(s / (s * s + 4.0).sqrt())
}

fn lexicon(w: &str) -> Option<f64> {
    Some(match w {
        "excellent" | "perfect" | "awesome" | "amazing" | "fantastic" | "brilliant"
        | "wonderful" | "outstanding" | "superb" | "love" | "loved" | "loving" => 2.0,
        "great" | "helpful" | "best" | "elegant" | "lgtm" | "impressive" | "beautiful" => 1.5,
        "good" | "nice" | "useful" | "works" | "worked" | "working" | "work" | "correct"
        | "exactly" | "fixed" | "solved" | "resolved" | "approved" | "approve" | "happy"
        | "glad" | "compiles" | "passes" | "passed" | "solid" | "neat" | "accurate" | "smooth"
        | "clever" | "flawless" | "compile" | "compiled" => 1.0,
        "cool" | "thanks" | "thank" | "thx" | "clean" | "clear" | "fast" | "better" | "passing"
        | "pass" | "quick" | "helps" | "helped" => 0.75,
        "yes" | "yep" | "fine" | "right" | "well" | "like" | "liked" => 0.5,
        "ok" | "okay" => 0.25,
        "meh" | "slow" | "missing" | "issue" | "issues" | "problem" | "problems"
        | "unnecessary" | "verbose" => -0.5,
        "bug" | "bugs" | "error" | "errors" | "unclear" | "hacky" | "flaky" => -0.75,
        "bad" | "wrong" | "poor" | "worse" | "incorrect" | "mistake" | "mistakes" | "nope"
        | "fail" | "fails" | "failed" | "failing" | "failure" | "buggy" | "confusing"
        | "annoying" | "ugly" | "messy" | "mess" | "regression" | "reject" | "rejected"
        | "crash" | "crashes" | "crashed" | "slower" | "stuck" => -1.0,
        "broken" | "broke" | "frustrating" | "disappointing" | "disappointed" | "unhelpful"
        | "hate" | "hated" | "painful" => -1.5,
        "terrible" | "awful" | "horrible" | "useless" | "worthless" | "garbage" | "worst"
        | "trash" | "nonsense" => -2.0,
        _ => return None,
    })
}

fn is_negator(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "no"
            | "never"
            | "none"
            | "nothing"
            | "neither"
            | "nor"
            | "cannot"
            | "without"
            | "hardly"
            | "barely"
            | "dont"
            | "doesnt"
            | "didnt"
            | "isnt"
            | "wasnt"
            | "arent"
            | "werent"
            | "wont"
            | "cant"
            | "couldnt"
            | "shouldnt"
            | "wouldnt"
            | "aint"
            | "havent"
            | "hasnt"
    ) || w.ends_with("n't")
}

fn intensity(w: &str) -> Option<f64> {
    match w {
        "very" | "really" | "extremely" | "super" | "so" | "totally" | "absolutely"
        | "incredibly" | "truly" | "highly" | "completely" | "insanely" | "amazingly" => Some(1.5),
        "slightly" | "somewhat" | "kinda" | "kind" | "sort" | "sorta" | "bit" | "fairly"
        | "rather" | "mostly" | "partly" | "little" => Some(0.5),
        _ => None,
    }
}

fn emoji(c: char) -> Option<f64> {
    match c {
        '👍' | '👎' => Some(if c == '👍' { 2.0 } else { -2.0 }),
        '🎉' | '❤' | '🙂' | '😊' | '😀' | '😃' | '😄' | '🥳' | '💯' | '🙌' | '🚀' | '⭐' => {
            Some(1.0)
        }
        '🙁' | '☹' | '😞' | '😠' | '😡' | '🤬' | '💩' | '😢' | '😭' | '🤦' => {
            Some(-1.0)
        }
        _ => None,
    }
}

enum Tok {
    Word(String),
    Boundary,
    Score(f64),
}

fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, toks: &mut Vec<Tok>| {
        if !word.is_empty() {
            toks.push(Tok::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            if c == '’' {
                word.push('\'');
            } else {
                word.extend(c.to_lowercase());
            }
            continue;
        }
        flush(&mut word, &mut toks);
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\n') {
            toks.push(Tok::Boundary);
        } else if let Some(v) = emoji(c) {
            toks.push(Tok::Score(v));
        }
    }
    flush(&mut word, &mut toks);
    toks
}

/// An explicit rating: a fraction out of 5, 10 or 100, or a run of stars.
fn explicit_rating(text: &str) -> Option<f64> {
    for n in numbers(text).take(64) {
        if let Some(d) = n.denominator
            && !n.date_like
            && !n.signed
            && (d == 5.0 || d == 10.0 || d == 100.0)
            && (0.0..=d).contains(&n.value)
        {
            return Some(clamp_unit(2.0 * n.value / d - 1.0));
        }
    }
    let filled = text.chars().filter(|c| matches!(c, '★' | '⭐')).count();
    let empty = text.chars().filter(|c| *c == '☆').count();
    if empty > 0 || filled >= 2 {
        let total = if empty > 0 { filled + empty } else { 5 };
        let share = filled.min(total) as f64 / total as f64;
        return Some(clamp_unit(2.0 * share - 1.0));
    }
    None
}

/// A deterministic estimate of the reward in feedback, in `[-1, 1]`, for when no model
/// rates it (see the [module docs](self) for the method and its limits). Total.
pub fn offline_reward(feedback: &str) -> f64 {
    let text = cap_input(feedback);
    if let Some(r) = explicit_rating(text) {
        return r;
    }
    let toks = tokenize(text);
    let mut parts: Vec<(usize, f64)> = Vec::new();
    let mut contrast: Option<usize> = None;
    let mut negate_left = 0usize;
    let mut boost = 1.0;
    let mut boost_left = 0usize;
    let mut prev_word: Option<&str> = None;
    let mut skip_next = false;
    for (i, tok) in toks.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        match tok {
            Tok::Boundary => {
                negate_left = 0;
                boost_left = 0;
                prev_word = None;
            }
            Tok::Score(v) => parts.push((i, *v)),
            Tok::Word(w) => {
                let w = w.as_str();
                if matches!(w, "thumbs" | "thumb")
                    && let Some(Tok::Word(next)) = toks.get(i + 1)
                    && matches!(next.as_str(), "up" | "down")
                {
                    parts.push((i, if next == "up" { 2.0 } else { -2.0 }));
                    skip_next = true;
                    continue;
                }
                if is_negator(w) {
                    negate_left = 3;
                } else if matches!(w, "but" | "however") {
                    contrast = Some(i);
                    negate_left = 0;
                    boost_left = 0;
                } else if let Some(m) = intensity(w) {
                    boost = m;
                    boost_left = 2;
                } else if matches!(w, "work")
                    && matches!(prev_word, Some("more" | "needs" | "need"))
                {
                    parts.push((i, -0.5));
                } else if let Some(v) = lexicon(w) {
                    let mut x = v;
                    if boost_left > 0 {
                        x *= boost;
                        boost_left = 0;
                    }
                    if negate_left > 0 {
                        x *= -0.75;
                        negate_left = 0;
                    }
                    parts.push((i, x));
                } else {
                    negate_left = negate_left.saturating_sub(1);
                    boost_left = boost_left.saturating_sub(1);
                }
                prev_word = Some(w);
            }
        }
    }
    let mut sum: f64 = parts
        .iter()
        .map(|&(i, x)| match contrast {
            Some(c) if i < c => 0.5 * x,
            Some(c) if i > c => 1.5 * x,
            _ => x,
        })
        .sum();
    // `+1` / `-1` as a vote, and text emoticons.
    for n in numbers(text).take(64) {
        if n.signed && n.denominator.is_none() && !n.percent && n.value.abs() == 1.0 {
            sum += 2.0 * n.value;
        }
    }
    let smiles = [":)", ":-)", ":D", "(:"]
        .iter()
        .map(|s| text.matches(s).count().min(3))
        .sum::<usize>();
    let frowns = [":(", ":-(", "):"]
        .iter()
        .map(|s| text.matches(s).count().min(3))
        .sum::<usize>();
    sum += smiles as f64 - frowns as f64;
    squash(sum)
}

/// Test results and warnings of a change (the seed's automated code-quality signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodeQuality {
    /// Tests that passed.
    pub tests_passed: u32,
    /// Tests that failed.
    pub tests_failed: u32,
    /// Linter warnings.
    pub lint_warnings: u32,
    /// Compiler warnings.
    pub build_warnings: u32,
    /// Whether the build failed.
    pub build_failed: bool,
}

/// Penalty per lint or build warning in [`CodeQuality::score`].
pub const WARNING_PENALTY: f64 = 0.05;

/// The most that warnings can take off [`CodeQuality::score`].
pub const MAX_WARNING_PENALTY: f64 = 0.5;

impl CodeQuality {
    /// The quality in `[-1, 1]`: -1 if the build failed; else the pass rate mapped to
    /// `[-1, 1]` (0 with no tests) minus [`WARNING_PENALTY`] per warning, at most
    /// [`MAX_WARNING_PENALTY`].
    pub fn score(&self) -> f64 {
        if self.build_failed {
            return -1.0;
        }
        let passed = f64::from(self.tests_passed);
        let total = passed + f64::from(self.tests_failed);
        let base = if total > 0.0 {
            2.0 * (passed / total) - 1.0
        } else {
            0.0
        };
        let warnings = f64::from(self.lint_warnings) + f64::from(self.build_warnings);
        let penalty = (warnings * WARNING_PENALTY).min(MAX_WARNING_PENALTY);
        clamp_unit(base - penalty)
    }
}

/// The reward sources of one outcome; any may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RewardSignals {
    /// A rating of the user's feedback in `[-1, 1]` ([`parse_reward`] or
    /// [`offline_reward`]).
    #[serde(default)]
    pub explicit: Option<f64>,
    /// Whether the task succeeded.
    #[serde(default)]
    pub success: Option<bool>,
    /// Test and warning counts.
    #[serde(default)]
    pub quality: Option<CodeQuality>,
}

/// Which source a part of a reward came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardSource {
    /// User feedback.
    Explicit,
    /// Task success or failure.
    Implicit,
    /// Code quality.
    Quality,
}

/// One source's contribution to a reward.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardPart {
    /// The source.
    pub source: RewardSource,
    /// Its value in `[-1, 1]`.
    pub value: f64,
    /// Its weight renormalised over the present sources (the weights sum to 1).
    pub weight: f64,
}

/// A combined reward and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardBreakdown {
    /// The reward in `[-1, 1]`.
    pub reward: f64,
    /// The present sources, in the order explicit, implicit, quality.
    pub parts: Vec<RewardPart>,
}

/// Weights are invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// A weight is negative, NaN or infinite.
    #[error("weight {name} must be finite and non-negative, got {value}")]
    Invalid {
        /// Which weight.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// Every weight is zero.
    #[error("at least one weight must be positive")]
    AllZero,
}

/// Weights of the reward sources: finite, non-negative, not all zero. The default is
/// explicit 0.5, implicit 0.3, quality 0.2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WeightsRepr")]
pub struct RewardWeights {
    explicit: f64,
    implicit: f64,
    quality: f64,
}

#[derive(Deserialize)]
struct WeightsRepr {
    explicit: f64,
    implicit: f64,
    quality: f64,
}

impl TryFrom<WeightsRepr> for RewardWeights {
    type Error = WeightsError;

    fn try_from(r: WeightsRepr) -> Result<Self, WeightsError> {
        RewardWeights::new(r.explicit, r.implicit, r.quality)
    }
}

impl Default for RewardWeights {
    fn default() -> Self {
        RewardWeights {
            explicit: 0.5,
            implicit: 0.3,
            quality: 0.2,
        }
    }
}

impl RewardWeights {
    /// Validated weights; they need not sum to 1 (they are renormalised).
    pub fn new(explicit: f64, implicit: f64, quality: f64) -> Result<Self, WeightsError> {
        for (name, value) in [
            ("explicit", explicit),
            ("implicit", implicit),
            ("quality", quality),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(WeightsError::Invalid { name, value });
            }
        }
        if explicit + implicit + quality <= 0.0 {
            return Err(WeightsError::AllZero);
        }
        Ok(RewardWeights {
            explicit,
            implicit,
            quality,
        })
    }

    /// The weight of user feedback.
    pub fn explicit(&self) -> f64 {
        self.explicit
    }

    /// The weight of task success.
    pub fn implicit(&self) -> f64 {
        self.implicit
    }

    /// The weight of code quality.
    pub fn quality(&self) -> f64 {
        self.quality
    }

    /// Combines the present sources (see the [module docs](self)); `None` when none is
    /// present with a positive weight.
    pub fn combine(&self, signals: RewardSignals) -> Option<RewardBreakdown> {
        let mut present: Vec<(RewardSource, f64, f64)> = Vec::new();
        if let Some(e) = signals.explicit
            && e.is_finite()
        {
            present.push((RewardSource::Explicit, clamp_unit(e), self.explicit));
        }
        if let Some(s) = signals.success {
            let v = if s { 1.0 } else { -1.0 };
            present.push((RewardSource::Implicit, v, self.implicit));
        }
        if let Some(q) = signals.quality {
            present.push((RewardSource::Quality, q.score(), self.quality));
        }
        present.retain(|(_, _, w)| *w > 0.0);
        let total: f64 = present.iter().map(|(_, _, w)| w).sum();
        if present.is_empty() || total <= 0.0 || !total.is_finite() {
            return None;
        }
        let weighted: f64 = present.iter().map(|(_, v, w)| v * w).sum();
        let reward = clamp_unit(weighted / total);
        let parts = present
            .into_iter()
            .map(|(source, value, w)| RewardPart {
                source,
                value,
                weight: w / total,
            })
            .collect();
        Some(RewardBreakdown { reward, parts })
    }
}

/// Combines the seed's three reward sources with the default [`RewardWeights`] (see the
/// [module docs](self)); `None` when no source is present.
pub fn combined_reward(signals: RewardSignals) -> Option<RewardBreakdown> {
    RewardWeights::default().combine(signals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_points() {
        assert!((squash(1.0) - 0.447).abs() < 0.001);
        assert!((squash(2.0) - 0.707).abs() < 0.001);
        assert_eq!(squash(0.0), 0.0);
        assert_eq!(squash(f64::NAN), 0.0);
    }

    #[test]
    fn explicit_ratings() {
        assert_eq!(explicit_rating("5/5"), Some(1.0));
        assert_eq!(explicit_rating("rated 2 out of 10"), Some(-0.6));
        assert!(explicit_rating("★★★☆☆").is_some_and(|r| (r - 0.2).abs() < 1e-9));
        assert_eq!(explicit_rating("due 3/5/2024"), None);
        assert_eq!(explicit_rating("great ⭐"), None);
    }
}
