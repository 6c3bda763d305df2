//! Rewards: the model's rating, the offline estimate and the combined reward.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use reasoning::*;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn model_ratings() {
    for (answer, want) in [
        ("0.8", 0.8),
        ("+1", 1.0),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("Rating: 0.7", 0.7),
        ("Rating: -0.3", -0.3),
        ("0.7/1", 0.7),
        ("8/10", 0.8),
        ("I'd say 7/10", 0.7),
        ("80%", 0.8),
        ("  0.9\n", 0.9),
        ("**0.6** (mostly positive)", 0.6),
        ("On a scale from -1 to 1, this is 0.6.", 0.6),
        ("-1 (very negative)", -1.0),
        ("5", 1.0),
        ("-3", -1.0),
        ("−0.4", -0.4),
    ] {
        assert!(
            close(parse_reward(answer), want),
            "{answer:?} -> {:?}",
            parse_reward(answer)
        );
    }
}

#[test]
fn unreadable_ratings_are_none_not_zero() {
    for answer in ["N/A", "NaN", "inf", "", "positive", "1e999", "3/0"] {
        assert_eq!(parse_reward(answer), None, "{answer:?}");
    }
    assert_eq!(parse_reward("0"), Some(0.0));
    assert!(parse_reward("-0").is_some_and(|v| v.is_sign_positive()));
}

#[test]
fn offline_estimates() {
    let r = offline_reward;
    assert!(r("Great, thanks!") > 0.5);
    assert!(r("Perfect, exactly what I needed") > 0.5);
    assert!(r("good") > 0.0 && r("good") < 0.5);
    assert!(r("very good") > r("good"));
    assert!(r("slightly good") < r("good"));
    assert!(r("not good") < 0.0);
    assert!(r("That didn't work.") < 0.0);
    assert!(r("doesn’t work at all") < 0.0);
    assert!(r("not bad") > 0.0);
    assert!(r("no problems so far") > 0.0);
    assert!(r("This is terrible and broken") < -0.5);
    assert!(r("Looks good but the build is broken") < 0.0);
    assert!(r("needs more work") < 0.0);
    assert!(r("it works") > 0.0);
    assert!(r("thumbs up") > 0.5);
    assert!(r("thumbs down") < -0.5);
    assert!(r("👍") > 0.5);
    assert!(r("👎") < -0.5);
    assert!(r("+1") > 0.5);
    assert!(r("nice :)") > r("nice"));
    assert_eq!(r(""), 0.0);
    assert_eq!(r("The function returns a list."), 0.0);
}

#[test]
fn offline_explicit_ratings_decide_alone() {
    assert_eq!(offline_reward("5/5"), 1.0);
    assert_eq!(offline_reward("0/5, terrible"), -1.0);
    assert!(close(Some(offline_reward("I'd give it 7 out of 10")), 0.4));
    assert!(close(
        Some(offline_reward("terrible UI but 9/10 overall")),
        0.8
    ));
    assert!(close(Some(offline_reward("★★★★☆")), 0.6));
    assert!(close(Some(offline_reward("⭐⭐⭐⭐⭐ great")), 1.0));
}

#[test]
fn combined_reward_is_the_renormalised_weighted_mean() {
    assert_eq!(combined_reward(RewardSignals::default()), None);

    let only = combined_reward(RewardSignals {
        explicit: Some(0.4),
        ..RewardSignals::default()
    })
    .unwrap();
    assert!(close(Some(only.reward), 0.4));
    assert_eq!(only.parts.len(), 1);
    assert!(close(Some(only.parts[0].weight), 1.0));

    let all = combined_reward(RewardSignals {
        explicit: Some(0.8),
        success: Some(false),
        quality: Some(CodeQuality {
            tests_passed: 3,
            tests_failed: 1,
            lint_warnings: 2,
            ..CodeQuality::default()
        }),
    })
    .unwrap();
    // quality = (2 * 3/4 - 1) - 2 * 0.05 = 0.4
    let want = 0.5 * 0.8 - 0.3 + 0.2 * 0.4; // explicit, failure (-1), quality
    assert!(close(Some(all.reward), want), "{all:?}");
    let sources: Vec<RewardSource> = all.parts.iter().map(|p| p.source).collect();
    assert_eq!(
        sources,
        [
            RewardSource::Explicit,
            RewardSource::Implicit,
            RewardSource::Quality
        ]
    );
    assert!(close(Some(all.parts[2].value), 0.4));
    assert!(close(Some(all.parts.iter().map(|p| p.weight).sum()), 1.0));
}

#[test]
fn code_quality_scores() {
    let q = |p, f, w, failed| CodeQuality {
        tests_passed: p,
        tests_failed: f,
        lint_warnings: w,
        build_warnings: 0,
        build_failed: failed,
    };
    assert_eq!(q(10, 0, 0, false).score(), 1.0);
    assert_eq!(q(0, 10, 0, false).score(), -1.0);
    assert_eq!(q(0, 0, 0, false).score(), 0.0);
    assert_eq!(q(10, 0, 0, true).score(), -1.0);
    assert!(close(Some(q(10, 0, 4, false).score()), 0.8));
    assert!(
        close(Some(q(10, 0, 1_000, false).score()), 0.5),
        "the penalty is capped"
    );
    assert_eq!(q(0, 1, 1_000, false).score(), -1.0);
    assert_eq!(q(u32::MAX, u32::MAX, u32::MAX, false).score(), -0.5);
}

#[test]
fn non_finite_ratings_count_as_absent() {
    let s = RewardSignals {
        explicit: Some(f64::NAN),
        ..RewardSignals::default()
    };
    assert_eq!(combined_reward(s), None);
    let s = RewardSignals {
        explicit: Some(f64::INFINITY),
        success: Some(true),
        quality: None,
    };
    assert_eq!(combined_reward(s).unwrap().reward, 1.0);
    let s = RewardSignals {
        explicit: Some(7.0),
        ..RewardSignals::default()
    };
    assert_eq!(combined_reward(s).unwrap().reward, 1.0, "clamped");
}

#[test]
fn weights_are_validated() {
    let d = RewardWeights::default();
    assert_eq!((d.explicit(), d.implicit(), d.quality()), (0.5, 0.3, 0.2));
    assert!(matches!(
        RewardWeights::new(-0.1, 1.0, 1.0),
        Err(WeightsError::Invalid {
            name: "explicit",
            ..
        })
    ));
    assert!(matches!(
        RewardWeights::new(1.0, f64::NAN, 1.0),
        Err(WeightsError::Invalid {
            name: "implicit",
            ..
        })
    ));
    assert_eq!(
        RewardWeights::new(0.0, 0.0, 0.0),
        Err(WeightsError::AllZero)
    );

    // A source with weight 0 counts as absent.
    let w = RewardWeights::new(1.0, 0.0, 0.0).unwrap();
    let s = RewardSignals {
        explicit: None,
        success: Some(true),
        quality: None,
    };
    assert_eq!(w.combine(s), None);

    // Deserialisation validates too.
    let ok: RewardWeights =
        serde_json::from_str(r#"{"explicit":1,"implicit":1,"quality":0}"#).unwrap();
    assert_eq!(ok.quality(), 0.0);
    assert!(
        serde_json::from_str::<RewardWeights>(r#"{"explicit":-1,"implicit":1,"quality":0}"#)
            .is_err()
    );
    let round: RewardWeights = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert_eq!(round, d);
}
