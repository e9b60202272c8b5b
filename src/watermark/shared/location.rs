//! Where the shared marks live: `--shared-watermarks URL`, parsed once at the edge.
//!
//! Owns: splitting `https://<account>.blob.core.windows.net/<container>[/<prefix>][?<SAS>]`
//! (and the path-style form Azurite and other local stand-ins use,
//! `http://127.0.0.1:10000/<account>/<container>[/<prefix>]`) into the container URL the SDK
//! takes, the blob-name prefix, and whether a SAS token authenticates the requests; and the
//! name of each slot's blob. Must never: accept a URL that would send a bearer token over plain
//! HTTP, or one whose query is anything but a SAS token.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use super::super::format::file_name;
use super::super::mark_store::Slot;

/// A parsed `--shared-watermarks` value.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedLocation {
    /// `scheme://host[:port]/[account/]container[?SAS]`: what the SDK's container client takes.
    container_url: Url,
    /// Blob names start with this (no leading or trailing `/`; empty for none).
    prefix: String,
    /// Whether the URL carries a SAS token (then no credential is used).
    sas: bool,
}

/// Why a `--shared-watermarks` URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("not a URL ({0}): expected https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]")]
    NotAUrl(String),
    #[error(
        "{0}: plain http is allowed only for a local emulator (127.0.0.1, ::1 or localhost) \
         with a SAS token in the query string: no token is ever sent unencrypted over a \
         network; use https"
    )]
    PlainHttp(String),
    #[error("unsupported scheme {0:?}: use https")]
    Scheme(String),
    #[error("no container in the URL: expected https://ACCOUNT.blob.core.windows.net/CONTAINER")]
    NoContainer,
    #[error(
        "{0:?} is not a valid container name: 3 to 63 lowercase letters, digits and single \
         dashes, starting and ending with a letter or digit"
    )]
    ContainerName(String),
    #[error(
        "the query string is not a SAS token (no `sig=`): pass a container SAS URL, or no \
         query at all to use the Azure credential chain"
    )]
    NotSas,
    #[error("the URL must not carry a user name, password or fragment")]
    Extras,
}

impl SharedLocation {
    pub fn parse(text: &str) -> Result<SharedLocation, LocationError> {
        let url = Url::parse(text).map_err(|e| LocationError::NotAUrl(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(LocationError::Extras);
        }
        let sas = match url.query() {
            None | Some("") => false,
            Some(q) if q.split('&').any(|pair| pair.starts_with("sig=")) => true,
            Some(_) => return Err(LocationError::NotSas),
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if sas && loopback => {}
            "http" => return Err(LocationError::PlainHttp(redacted(&url))),
            other => return Err(LocationError::Scheme(other.to_string())),
        }
        // Local stand-ins (an IP address or localhost) name the account in the path.
        let path_style = match url.host() {
            Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_)) => true,
            Some(url::Host::Domain(d)) => d == "localhost" || d.parse::<IpAddr>().is_ok(),
            None => return Err(LocationError::NotAUrl("no host".into())),
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        let skip = usize::from(path_style);
        let container = *segments.get(skip).ok_or(LocationError::NoContainer)?;
        if !valid_container(container) {
            return Err(LocationError::ContainerName(container.to_string()));
        }
        let prefix = segments[skip + 1..].join("/");
        let mut container_url = url.clone();
        container_url.set_path(&segments[..=skip].join("/"));
        Ok(SharedLocation {
            container_url,
            prefix,
            sas,
        })
    }

    /// The container URL, SAS included: give it to the SDK, never to a log.
    pub fn container_url(&self) -> &Url {
        &self.container_url
    }

    pub fn uses_sas(&self) -> bool {
        self.sas
    }

    /// The blob holding `slot`'s mark: `[<prefix>/]<chain>/<pkh>/<kind's octez file name>`.
    pub fn blob_name(&self, slot: &Slot) -> String {
        let name = format!("{}/{}/{}", slot.chain, slot.pkh, file_name(slot.kind));
        if self.prefix.is_empty() {
            name
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl SharedLocation {
    /// The readiness probe blob of signer `id`: `[<prefix>/].probes/<id>` (never a slot name:
    /// slot names start with a chain id).
    pub fn probe_name(&self, id: &str) -> String {
        if self.prefix.is_empty() {
            format!(".probes/{id}")
        } else {
            format!("{}/.probes/{id}", self.prefix)
        }
    }
}

impl SharedLocation {
    /// The 24-hour spending blob of key `pkh`: `[<prefix>/].spending/<pkh>` (never a slot
    /// name: slot names start with a chain id).
    pub fn spending_name(&self, pkh: &crate::tezos::Pkh) -> String {
        if self.prefix.is_empty() {
            format!(".spending/{pkh}")
        } else {
            format!("{}/.spending/{pkh}", self.prefix)
        }
    }
}

/// Printable without the SAS signature.
impl fmt::Display for SharedLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redacted(&self.container_url))?;
        if !self.prefix.is_empty() {
            write!(f, " (prefix {})", self.prefix)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SharedLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedLocation({self})")
    }
}

/// `url` without its query (a SAS token is a secret).
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    shown.set_query(None);
    if had_query {
        format!("{shown}?<SAS>")
    } else {
        shown.to_string()
    }
}

/// Azure's container naming rule.
fn valid_container(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tezos::ConsensusKind;

    #[test]
    fn parses_azure_and_local_urls() {
        let cases: [(&str, &str, &str, bool); 5] = [
            (
                "https://acct.blob.core.windows.net/marks",
                "https://acct.blob.core.windows.net/marks",
                "",
                false,
            ),
            (
                "https://acct.blob.core.windows.net/marks/baker-a/",
                "https://acct.blob.core.windows.net/marks",
                "baker-a",
                false,
            ),
            (
                "https://acct.blob.core.windows.net/marks/a/b?sv=2019-12-12&sig=abc",
                "https://acct.blob.core.windows.net/marks?sv=2019-12-12&sig=abc",
                "a/b",
                true,
            ),
            (
                "http://127.0.0.1:10000/devstoreaccount1/marks?sp=rw&sig=x",
                "http://127.0.0.1:10000/devstoreaccount1/marks?sp=rw&sig=x",
                "",
                true,
            ),
            (
                "https://localhost:10000/devstoreaccount1/marks/p",
                "https://localhost:10000/devstoreaccount1/marks",
                "p",
                false,
            ),
        ];
        for (text, container, prefix, sas) in cases {
            let loc = SharedLocation::parse(text).expect(text);
            assert_eq!(loc.container_url().as_str(), container, "{text}");
            assert_eq!(loc.prefix, prefix, "{text}");
            assert_eq!(loc.uses_sas(), sas, "{text}");
        }
    }

    #[test]
    fn refuses_what_could_leak_or_misroute() {
        let cases: [(&str, LocationError); 10] = [
            (
                "http://acct.blob.core.windows.net/marks",
                LocationError::PlainHttp("http://acct.blob.core.windows.net/marks".into()),
            ),
            // A SAS token is a secret too: never over plain http beyond loopback.
            (
                "http://acct.blob.core.windows.net/marks?sv=1&sig=SECRET",
                LocationError::PlainHttp("http://acct.blob.core.windows.net/marks?<SAS>".into()),
            ),
            (
                "http://192.0.2.5:10000/devstoreaccount1/marks?sig=SECRET",
                LocationError::PlainHttp(
                    "http://192.0.2.5:10000/devstoreaccount1/marks?<SAS>".into(),
                ),
            ),
            (
                "http://127.0.0.1:10000/devstoreaccount1/marks",
                LocationError::PlainHttp("http://127.0.0.1:10000/devstoreaccount1/marks".into()),
            ),
            ("ftp://x/marks", LocationError::Scheme("ftp".into())),
            (
                "https://acct.blob.core.windows.net/",
                LocationError::NoContainer,
            ),
            (
                "https://acct.blob.core.windows.net/Marks",
                LocationError::ContainerName("Marks".into()),
            ),
            (
                "https://acct.blob.core.windows.net/marks?foo=bar",
                LocationError::NotSas,
            ),
            (
                "https://u:p@acct.blob.core.windows.net/marks",
                LocationError::Extras,
            ),
            ("https://127.0.0.1:10000/marks", LocationError::NoContainer),
        ];
        for (text, want) in cases {
            assert_eq!(SharedLocation::parse(text), Err(want), "{text}");
        }
    }

    #[test]
    fn names_blobs_per_slot_and_hides_the_sas() {
        let loc = SharedLocation::parse(
            "https://acct.blob.core.windows.net/marks/bakers?sv=1&sig=SECRET",
        )
        .expect("url");
        let slot = Slot {
            kind: ConsensusKind::Attestation,
            chain: "NetXdQprcVkpaWU".parse().expect("chain"),
            pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().expect("pkh"),
        };
        assert_eq!(
            loc.blob_name(&slot),
            "bakers/NetXdQprcVkpaWU/tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt/attestation_high_watermarks"
        );
        let shown = loc.to_string();
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<SAS>"), "{shown}");
    }
}
