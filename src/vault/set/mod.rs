//! Several vaults holding the same keys (one per region), used as one [`Vault`]: a baker signs
//! through a regional outage or a slow tail of one of them.
//!
//! Owns: matching keys across vaults by public key (the pkh; names may differ), the order in
//! which vaults are asked (the first `--vault-url` first, demoted ones last), each vault's
//! standing ([`standing`]) and its probe back, and the hedged signature ([`race`]). Must never:
//! release a signature that did not verify, or more than one signature per call (the first
//! verified one wins; the others are dropped inside this module, so a block's one released
//! signature is the one the pipeline records).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{ImportOptions, Vault, VaultError, VaultKey};
use crate::latency::Snapshot;
use crate::tezos::{Pkh, SecretKey, Signature};

mod race;
mod standing;

use standing::{Change, HedgeBudget, Standing};

/// How long the other vaults may still take to list their keys once one has.
const LIST_GRACE: Duration = Duration::from_secs(2);
/// How long each vault's readiness check may take (under the readiness probe's own limit, so
/// that one frozen vault cannot make the whole check time out).
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// When the other vault is asked if the first has not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeDelay {
    /// About the preferred vault's recent 95th percentile, between [`HedgeConfig::min_delay`]
    /// and [`HedgeConfig::max_delay`] ([`HedgeConfig::initial_delay`] until it has answered
    /// 20 times).
    Auto,
    /// Always this long.
    Fixed(Duration),
}

/// How a set of vaults hedges and demotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HedgeConfig {
    /// When to hedge.
    pub delay: HedgeDelay,
    /// Lower bound of the automatic delay.
    pub min_delay: Duration,
    /// Upper bound of the automatic delay.
    pub max_delay: Duration,
    /// The automatic delay before enough latencies are known.
    pub initial_delay: Duration,
    /// Hedges per signature in the long run (0.1: at most 10 % of signatures cost a second
    /// vault request because the first was slow; a failed first request is not a hedge).
    pub max_ratio: f64,
    /// Vault failures in a row that demote a vault.
    pub demote_after: u32,
    /// How often a demoted vault is probed (one listing) to bring it back.
    pub probe_every: Duration,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        HedgeConfig {
            delay: HedgeDelay::Auto,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
            initial_delay: Duration::from_millis(250),
            max_ratio: 0.1,
            demote_after: 3,
            probe_every: Duration::from_secs(5),
        }
    }
}

/// One vault's state, for `/readyz` and the metrics.
#[derive(Debug, Clone)]
pub struct MemberStatus {
    /// The vault's URL.
    pub url: String,
    /// Why it is demoted; `None` while it is in good standing.
    pub demoted: Option<String>,
    /// Keys it holds (as last listed).
    pub keys: usize,
    /// Sign requests sent to it.
    pub requests: u64,
    /// Requests sent to it because another vault had not answered within the hedge delay.
    pub hedges_sent: u64,
    /// Of those, the ones whose signature was released.
    pub hedges_won: u64,
    /// Hedges to it that the cap refused.
    pub hedges_refused: u64,
    /// Failed calls by class.
    pub errors: Vec<(&'static str, u64)>,
    /// Latencies of its verified signatures.
    pub latency: Snapshot,
    /// Its current hedge delay (when it is asked first).
    pub hedge_delay: Duration,
}

/// One vault of the set.
struct Member {
    url: String,
    vault: Arc<dyn Vault>,
    /// Its keys by pkh, as last listed (kept when a listing fails); shared, so that the
    /// signing path takes one without copying its strings.
    keys: RwLock<HashMap<Pkh, Arc<VaultKey>>>,
    standing: Standing,
}

impl Member {
    /// Its keys as last listed.
    fn known(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Pkh, Arc<VaultKey>>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, pkh: &Pkh) -> Option<Arc<VaultKey>> {
        self.known().get(pkh).cloned()
    }

    fn key_named(&self, name: &str) -> Option<Arc<VaultKey>> {
        self.known().values().find(|k| k.name == name).cloned()
    }

    /// Its key first by name, if it knows any.
    fn any_key(&self) -> Option<Arc<VaultKey>> {
        self.known()
            .values()
            .min_by(|a, b| a.name.cmp(&b.name))
            .cloned()
    }

    /// Lists the vault; on success its keys replace the ones known. (A listing that works says
    /// nothing about signing: it neither clears failures nor restores a demoted vault.)
    async fn list(self: &Arc<Self>, config: &HedgeConfig) -> Result<Vec<VaultKey>, VaultError> {
        let listed = self.vault.list_keys().await;
        match &listed {
            Ok(keys) => {
                let map = keys
                    .iter()
                    .map(|k| (k.pkh(), Arc::new(k.clone())))
                    .collect();
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = map;
            }
            Err(e) => self.failed(e, config),
        }
        listed
    }

    /// A verified signature after `took`: failures cleared, a demoted vault restored.
    fn signed(&self, took: Duration) {
        if self.standing.succeeded(took) == Change::Restored {
            tracing::warn!(vault = %self.url, "vault restored: it signs again and is asked first again");
        }
    }

    /// One probe of a demoted vault: a signature by one of its keys (what demoted it was
    /// signing, so only a signature brings it back), after a listing when it knows no key.
    /// The digest is the hash of a fixed text, of no Tezos payload; the signature is checked
    /// and dropped here, never released.
    async fn probe_once(self: &Arc<Self>, config: &HedgeConfig) {
        if self.any_key().is_none() && self.list(config).await.is_err() {
            return;
        }
        let Some(key) = self.any_key() else {
            return;
        };
        let started = Instant::now();
        let digest = crate::tezos::blake2b_256(b"tezos-azure-signer: is this vault back?");
        let deadline = Some(started + config.max_delay.max(Duration::from_secs(3)));
        match self
            .vault
            .sign_verified_until(&key, &digest, deadline)
            .await
        {
            Ok(_) => self.signed(started.elapsed()),
            Err(e) => self.failed(&e, config),
        }
    }

    /// Counts a failure of the vault itself (a missing key is not one) and, when it demotes
    /// the vault, says so once and starts probing it.
    fn failed(self: &Arc<Self>, e: &VaultError, config: &HedgeConfig) {
        if e.is_vault_failure() {
            self.failure(e.label(), &e.to_string(), config);
        }
    }

    /// Demotes the vault at once (`why`) unless it already is.
    fn demote(self: &Arc<Self>, why: &str, config: &HedgeConfig) {
        let change = self.standing.demote(why);
        self.after(change, config);
    }

    /// Counts a failure of class `label` (`why`: its text).
    fn failure(self: &Arc<Self>, label: &'static str, why: &str, config: &HedgeConfig) {
        let change = self.standing.failed(label, why, config.demote_after);
        self.after(change, config);
    }

    /// A demotion is said once, and starts the probe.
    fn after(self: &Arc<Self>, change: Change, config: &HedgeConfig) {
        if change == Change::Demoted {
            tracing::error!(vault = %self.url, reason = %self.standing.demoted().unwrap_or_default(), "vault demoted: the other vaults are asked first until it signs a probe");
            self.probe(*config);
        }
    }

    /// Probes the demoted vault every `probe_every` ([`Member::probe_once`]) until it signs
    /// again (then it is restored); stops when the set is gone. Needs a tokio runtime; without
    /// one, a later successful request restores it.
    fn probe(self: &Arc<Self>, config: HedgeConfig) {
        if tokio::runtime::Handle::try_current().is_err() || !self.standing.start_probe() {
            return;
        }
        let member: Weak<Member> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(config.probe_every).await;
                let Some(member) = member.upgrade() else {
                    return;
                };
                if !member.standing.healthy() {
                    member.probe_once(&config).await;
                }
                // Ends only while healthy, under the lock a new demotion takes: a demotion
                // after this finds no probe running and starts one.
                if member.standing.end_probe_if_healthy() {
                    return;
                }
            }
        });
    }

    fn status(&self, delay: Duration) -> MemberStatus {
        MemberStatus {
            url: self.url.clone(),
            demoted: self.standing.demoted(),
            keys: self.known().len(),
            requests: Standing::count(&self.standing.requests),
            hedges_sent: Standing::count(&self.standing.hedges_sent),
            hedges_won: Standing::count(&self.standing.hedges_won),
            hedges_refused: Standing::count(&self.standing.hedges_refused),
            errors: self.standing.errors().into_iter().collect(),
            latency: self.standing.latency.snapshot(),
            hedge_delay: delay,
        }
    }
}

/// Several vaults as one (see the module doc).
pub struct VaultSet {
    members: Vec<Arc<Member>>,
    config: HedgeConfig,
    budget: HedgeBudget,
}

impl std::fmt::Debug for VaultSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.members.iter().map(|m| m.url.as_str()).collect();
        f.debug_struct("VaultSet").field("vaults", &urls).finish()
    }
}

impl VaultSet {
    /// `vaults` (URL, vault), the preferred one first.
    pub fn new(vaults: Vec<(String, Arc<dyn Vault>)>, config: HedgeConfig) -> VaultSet {
        VaultSet {
            members: vaults
                .into_iter()
                .map(|(url, vault)| {
                    Arc::new(Member {
                        url,
                        vault,
                        keys: RwLock::default(),
                        standing: Standing::default(),
                    })
                })
                .collect(),
            budget: HedgeBudget::new(config.max_ratio),
            config,
        }
    }

    /// The vaults holding `pkh`, each with its own key: the ones in good standing in the order
    /// given, then the demoted ones (asked only when the others failed).
    fn order(&self, pkh: &Pkh) -> Vec<(&Arc<Member>, Arc<VaultKey>)> {
        let holders = self
            .members
            .iter()
            .filter_map(|m| m.key(pkh).map(|k| (m, k)));
        let (mut healthy, demoted): (Vec<_>, Vec<_>) =
            holders.partition(|(m, _)| m.standing.healthy());
        healthy.extend(demoted);
        healthy
    }

    /// How long the first vault asked, `member`, has before the next one is asked too.
    fn hedge_delay(&self, member: &Member) -> Duration {
        let c = &self.config;
        match c.delay {
            HedgeDelay::Fixed(d) => d,
            HedgeDelay::Auto => member
                .standing
                .p95()
                .map_or(c.initial_delay, |p| p.max(c.min_delay).min(c.max_delay)),
        }
    }

    /// Warns about every key only one vault holds (no second vault to fail over to).
    fn warn_single_homed(&self, merged: &[VaultKey]) {
        for key in merged {
            let pkh = key.pkh();
            let holders: Vec<&str> = self
                .members
                .iter()
                .filter(|m| m.key(&pkh).is_some())
                .map(|m| m.url.as_str())
                .collect();
            if let [only] = holders.as_slice() {
                tracing::warn!(pkh = %pkh, key = %key.name, vault = %only, "key found in only one vault: served from it alone, with no vault to fail over to (import it into every vault)");
            }
        }
    }
}

#[async_trait]
impl Vault for VaultSet {
    /// Lists every vault at once; the union by pkh, each key as the first vault holding it
    /// reports it. A vault whose listing fails keeps the keys it had; fails only when every
    /// listing fails.
    async fn list_keys(&self) -> Result<Vec<VaultKey>, VaultError> {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut listings: FuturesUnordered<_> = self
            .members
            .iter()
            .map(|m| async move { (m, m.list(&self.config).await) })
            .collect();
        let mut first_error = None;
        let mut listed = Vec::new();
        // Once one vault has answered, the others get LIST_GRACE more: a frozen vault must not
        // hold up the start or a re-discovery for its whole read deadline.
        let mut grace: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                next = listings.next() => match next {
                    Some((member, Ok(_))) => {
                        listed.push(member.url.clone());
                        grace.get_or_insert_with(|| tokio::time::Instant::now() + LIST_GRACE);
                    }
                    Some((member, Err(e))) => {
                        tracing::warn!(vault = %member.url, error = %e, "could not list the keys of one vault: its last known keys are kept");
                        first_error.get_or_insert(e);
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(grace.unwrap_or_else(tokio::time::Instant::now)), if grace.is_some() => {
                    tracing::warn!(vaults = listings.len(), "a vault did not list its keys in time: its last known keys are kept");
                    break;
                }
            }
        }
        if listed.is_empty() {
            return Err(first_error.unwrap_or_else(|| VaultError::NotFound("any vault".into())));
        }
        // A vault whose listing failed or was cut off and that knows no key cannot be asked
        // for anything: demoted, so that its probe lists it until it answers.
        for member in &self.members {
            if !listed.contains(&member.url) && member.known().is_empty() {
                member.demote("its keys could not be listed", &self.config);
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut merged = Vec::new();
        for member in &self.members {
            let keys = member.known();
            let mut own: Vec<&Arc<VaultKey>> = keys.values().collect();
            own.sort_by(|a, b| a.name.cmp(&b.name));
            let new = own.into_iter().filter(|k| seen.insert(k.pkh()));
            merged.extend(new.map(|k| VaultKey::clone(k)));
        }
        self.warn_single_homed(&merged);
        Ok(merged)
    }

    /// The key named `name` (in the first vault that knows that name), read from the first
    /// vault holding it that answers.
    async fn get_key(&self, name: &str) -> Result<VaultKey, VaultError> {
        let pkh = self
            .members
            .iter()
            .find_map(|m| m.key_named(name))
            .map(|k| k.pkh());
        let asked: Vec<(&Arc<Member>, String)> = match &pkh {
            Some(pkh) => self
                .order(pkh)
                .into_iter()
                .map(|(m, k)| (m, k.name.clone()))
                .collect(),
            None => self.members.iter().map(|m| (m, name.to_string())).collect(),
        };
        let mut last = VaultError::NotFound(name.to_string());
        for (member, own_name) in asked {
            match member.vault.get_key(&own_name).await {
                Ok(key) => return Ok(key),
                Err(e) => {
                    member.failed(&e, &self.config);
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// The raw r‖s of the hedged, verified signature ([`Vault::sign_verified_until`]).
    async fn sign_digest_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<Instant>,
    ) -> Result<[u8; 64], VaultError> {
        self.sign_verified_until(key, digest, deadline)
            .await
            .map(|s| *s.raw())
    }

    /// The hedged signature: see [`race`].
    async fn sign_verified_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<Instant>,
    ) -> Result<Signature, VaultError> {
        race::sign(self, key, digest, deadline).await
    }

    /// Imports into every vault, in order; stops at the first failure (the `import` command
    /// imports vault by vault and reports each).
    async fn import_key(
        &self,
        name: &str,
        secret: &SecretKey,
        options: ImportOptions,
    ) -> Result<VaultKey, VaultError> {
        let mut first = None;
        for member in &self.members {
            let key = member.vault.import_key(name, secret, options).await?;
            first.get_or_insert(key);
        }
        first.ok_or_else(|| VaultError::NotFound(name.to_string()))
    }

    /// Checks every vault at once, each within [`CHECK_TIMEOUT`]: one read of a served key it
    /// holds, or a listing when it holds none (which also brings its keys up to date). Fails when a
    /// served key is left without a vault that answered and is in good standing.
    async fn check(&self, served: &[VaultKey]) -> Result<(), VaultError> {
        let checks = self.members.iter().map(|m| async move {
            let call = async {
                match served.iter().find_map(|k| m.key(&k.pkh())) {
                    Some(own) => m.vault.check(std::slice::from_ref(&own)).await,
                    None => m.list(&self.config).await.map(drop),
                }
            };
            let result = tokio::time::timeout(CHECK_TIMEOUT, call)
                .await
                .unwrap_or(Err(VaultError::Deadline(CHECK_TIMEOUT)));
            if let Err(e) = &result {
                m.failed(e, &self.config);
            }
            result
        });
        let results = futures::future::join_all(checks).await;
        let usable = |m: &Member, r: &Result<(), VaultError>| r.is_ok() && m.standing.healthy();
        for key in served {
            let pkh = key.pkh();
            let holders = || {
                self.members
                    .iter()
                    .zip(&results)
                    .filter(|(m, _)| m.key(&pkh).is_some())
            };
            if !holders().any(|(m, r)| usable(m, r)) {
                let error = holders().find_map(|(_, r)| r.clone().err());
                return Err(error.unwrap_or_else(|| {
                    VaultError::Protocol(format!("no vault in good standing holds {pkh}").into())
                }));
            }
        }
        match results.iter().any(Result::is_ok) {
            true => Ok(()),
            false => results
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), Err),
        }
    }

    fn members(&self) -> Vec<MemberStatus> {
        self.members
            .iter()
            .map(|m| m.status(self.hedge_delay(m)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
