use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// Issues tokens "t1", "t2", … valid for `life`; fails while `fail` is set.
#[derive(Debug)]
struct Counting {
    fetches: Arc<AtomicU32>,
    life: Duration,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl TokenCredential for Counting {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "down",
            ));
        }
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let life = azure_core::time::Duration::try_from(self.life).unwrap();
        Ok(AccessToken::new(
            format!("t{n}"),
            OffsetDateTime::now_utc() + life,
        ))
    }
}

fn counting(
    life_ms: u64,
) -> (
    Arc<Counting>,
    Arc<AtomicU32>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let fetches = Arc::new(AtomicU32::new(0));
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = Arc::new(Counting {
        fetches: fetches.clone(),
        life: Duration::from_millis(life_ms),
        fail: fail.clone(),
    });
    (c, fetches, fail)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn tokens_are_cached_while_valid() {
    let (inner, fetches, _) = counting(3_600_000);
    let keeper = keep_fresh(inner, KeeperTiming::default());
    for _ in 0..10 {
        let t = keeper.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.token.secret(), "t1");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // Another scope set has its own token.
    keeper.get_token(&["other"], None).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_next_token_is_fetched_in_the_background_before_expiry() {
    let (inner, fetches, _) = counting(1000);
    let timing = KeeperTiming {
        refresh_before: ms(700),
        min_validity: ms(100),
        min_interval: ms(50),
    };
    let keeper = keep_fresh(inner, timing);
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t1"
    );
    tokio::time::sleep(ms(450)).await;
    let before = fetches.load(Ordering::SeqCst);
    assert!(before >= 2, "refreshed in the background: {before} fetches");
    let t = keeper.get_token(&["s"], None).await.unwrap();
    assert_ne!(t.token.secret(), "t1", "the fresh token is served");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        before,
        "served from the cache"
    );
    // Dropping the keeper stops its refresher.
    drop(keeper);
    tokio::time::sleep(ms(350)).await;
    let after_drop = fetches.load(Ordering::SeqCst);
    tokio::time::sleep(ms(700)).await;
    assert_eq!(fetches.load(Ordering::SeqCst), after_drop);
}

#[tokio::test]
async fn a_failing_refresh_keeps_serving_the_valid_token() {
    let (inner, fetches, fail) = counting(2000);
    let timing = KeeperTiming {
        refresh_before: ms(1900),
        min_validity: ms(100),
        min_interval: ms(50),
    };
    let keeper = keep_fresh(inner, timing);
    keeper.get_token(&["s"], None).await.unwrap();
    fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(ms(300)).await;
    let t = keeper.get_token(&["s"], None).await.unwrap();
    assert_eq!(t.token.secret(), "t1");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // Recovered: the refresher fetches again (after its 1 s backoff).
    fail.store(false, Ordering::SeqCst);
    tokio::time::sleep(ms(1300)).await;
    assert!(fetches.load(Ordering::SeqCst) >= 2);
}

/// Like the SDK's credentials: hands back its cached token until that has `window` or less
/// left, and only then fetches ("mints") a new one.
#[derive(Debug)]
struct SdkLike {
    minted: Arc<AtomicU32>,
    asked: Arc<AtomicU32>,
    life: Duration,
    window: Duration,
    cached: Mutex<Option<AccessToken>>,
}

#[async_trait]
impl TokenCredential for SdkLike {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut cached = self.cached.lock().unwrap();
        if let Some(t) = cached.as_ref().filter(|t| remaining(t) > self.window) {
            return Ok(t.clone());
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        let life = azure_core::time::Duration::try_from(self.life).unwrap();
        let token = AccessToken::new(format!("t{n}"), OffsetDateTime::now_utc() + life);
        *cached = Some(token.clone());
        Ok(token)
    }
}

#[tokio::test]
async fn a_caching_credential_is_never_asked_in_a_loop() {
    let (minted, asked) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let inner = Arc::new(SdkLike {
        minted: minted.clone(),
        asked: asked.clone(),
        life: ms(1000),
        window: ms(300),
        cached: Mutex::new(None),
    });
    // Refreshing earlier than the credential's own window: the first background fetches get
    // the same token back. They must be spaced by min_interval, not repeated at once.
    let timing = KeeperTiming {
        refresh_before: ms(700),
        min_validity: ms(100),
        min_interval: ms(100),
    };
    let keeper = keep_fresh(inner, timing);
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t1"
    );
    tokio::time::sleep(ms(900)).await;
    let t = keeper.get_token(&["s"], None).await.unwrap();
    assert_ne!(
        t.token.secret(),
        "t1",
        "the next token arrived before t1 expired"
    );
    let asked = asked.load(Ordering::SeqCst);
    assert!(
        asked <= 12,
        "the credential was asked {asked} times in 0.9 s"
    );
    assert!(minted.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn reset_drops_a_token_fetched_before_the_rejection() {
    let (inner, fetches, _) = counting(3_600_000);
    let keeper = keep_fresh(inner, KeeperTiming::default());
    // The first token through the keeper itself: no background refresher yet, which could
    // otherwise wake up after the reset and fetch on its own.
    assert_eq!(
        keeper
            .0
            .get_token(&["s"], None)
            .await
            .unwrap()
            .token
            .secret(),
        "t1"
    );
    let seen_at = Instant::now();
    keeper.reset(seen_at);
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t2",
        "the refused token is not handed out again"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // A rejection seen before t2 was fetched is about t1: t2 stays.
    keeper.reset(seen_at);
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t2"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn resets_are_acted_on_at_most_once_per_min_interval() {
    let (inner, fetches, _) = counting(3_600_000);
    let timing = KeeperTiming {
        min_interval: ms(300),
        ..KeeperTiming::default()
    };
    let keeper = keep_fresh(inner, timing);
    keeper.0.get_token(&["s"], None).await.unwrap();
    keeper.reset(Instant::now());
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t2"
    );
    // t2 refused at once too: a vault refusing every token must not cost one per request.
    keeper.reset(Instant::now());
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t2"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    tokio::time::sleep(ms(350)).await;
    keeper.reset(Instant::now());
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t3"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

/// Counts resets of the inner credential.
#[derive(Debug, Default)]
struct InnerResets(AtomicU32);

impl TokenReset for InnerResets {
    fn reset(&self, _seen_at: Instant) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_rejections_costs_one_new_token() {
    let (inner, fetches, _) = counting(3_600_000);
    let inner_resets = Arc::new(InnerResets::default());
    let keeper = keep_fresh_with_reset(inner, inner_resets.clone(), KeeperTiming::default());
    // Through the keeper itself, so no refresher runs while the cache is empty.
    keeper.0.get_token(&["s"], None).await.unwrap();
    let seen_at = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let keeper = keeper.clone();
            tokio::spawn(async move {
                keeper.reset(seen_at);
                let token = keeper.get_token(&["s"], None).await.unwrap();
                token.token.secret().to_owned()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "t2");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one new token for all");
    assert_eq!(
        inner_resets.0.load(Ordering::SeqCst),
        1,
        "the inner credential is reset once"
    );
}

/// Answers the first request slowly with "t1" (as an old credential whose cache still holds
/// the refused token), every later one at once with "t2", "t3", ….
#[derive(Debug)]
struct SlowFirst {
    fetches: Arc<AtomicU32>,
}

#[async_trait]
impl TokenCredential for SlowFirst {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            tokio::time::sleep(ms(300)).await;
        }
        Ok(AccessToken::new(
            format!("t{n}"),
            OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_overlapped_a_reset_is_not_cached() {
    let fetches = Arc::new(AtomicU32::new(0));
    let inner = Arc::new(SlowFirst {
        fetches: fetches.clone(),
    });
    let keeper = keep_fresh(inner, KeeperTiming::default());
    // Seed the cache with a token that the reset will drop, through the keeper itself (not
    // the slow credential): a background-style fetch is then in flight across the reset.
    keeper.0.store(
        &["s".to_owned()],
        &AccessToken::new(
            "t0",
            OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ),
        Instant::now(),
        0,
    );
    let in_flight = {
        let keeper = keeper.0.clone();
        tokio::spawn(async move { keeper.fetch(&["s".to_owned()], None).await.unwrap() })
    };
    tokio::time::sleep(ms(100)).await;
    keeper.reset(Instant::now());
    assert_eq!(in_flight.await.unwrap().token.secret(), "t1");
    assert_eq!(
        keeper.get_token(&["s"], None).await.unwrap().token.secret(),
        "t2",
        "t1 came from before the reset: fetched again, not served from the cache"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[test]
fn default_timing_refreshes_inside_the_sdk_window() {
    let t = KeeperTiming::default();
    assert!(
        t.refresh_before < SDK_REFRESH_WINDOW,
        "earlier, the SDK's cached credential returns the same token"
    );
    assert!(t.min_validity < t.refresh_before);
    assert!(t.min_interval > Duration::ZERO);
}
