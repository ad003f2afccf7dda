//! The guard against server-side request forgery: a webhook may not make Bazaar post to
//! its own network. Loopback, private, link-local (cloud metadata at 169.254.169.254
//! included), shared (CGNAT), unspecified, broadcast, multicast and reserved addresses are
//! refused, in IPv4, IPv6 and IPv4 inside IPv6; so are `localhost` names.
//!
//! The check runs twice: when a task is submitted (the URL's literal address, or every
//! address its host resolves to), and when a message is sent, after the HTTP client's own
//! resolution ([`GuardedResolver`]), so that a name that changes its answer in between
//! (DNS rebinding) gains nothing. An operator may allow hosts or networks that are refused
//! otherwise ([`TargetPolicy`]), such as a receiver on the same host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

/// How long a submission waits for the webhook host's addresses.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why an address may not be a webhook's target; `None` when it may.
pub fn forbidden_reason(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(address) => forbidden_v4(address),
        IpAddr::V6(address) => forbidden_v6(address),
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if address.is_private() {
        Some("a private address")
    } else if address.is_link_local() {
        Some("a link-local address (cloud metadata lives there)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if address.is_broadcast() {
        Some("the broadcast address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) || (a == 198 && (b == 18 || b == 19)) {
        Some("a reserved address")
    } else {
        None
    }
}

fn forbidden_v6(address: Ipv6Addr) -> Option<&'static str> {
    let segments = address.segments();
    if let Some(inner) = address.to_ipv4_mapped() {
        return forbidden_v4(inner);
    }
    // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) addresses carry an IPv4 address too.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || (segments[..6] == [0; 6] && !address.is_loopback() && !address.is_unspecified())
    {
        let [.., high, low] = segments;
        let inner = Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
        return forbidden_v4(inner).or(Some("an IPv4-compatible address"));
    }
    if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_unspecified() {
        Some("an unspecified address")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if segments[0] == 0x2002 {
        // 6to4: the next 32 bits are an IPv4 address.
        let inner = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        forbidden_v4(inner)
    } else if segments[..4] == [0x100, 0, 0, 0] {
        Some("a discard-only address")
    } else {
        None
    }
}

/// Whether a host name stands for this machine whatever DNS says.
fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain"
}

/// A network in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, candidate: IpAddr) -> bool {
        match (self.address, canonical(candidate)) {
            (IpAddr::V4(network), IpAddr::V4(candidate)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(candidate) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(candidate)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(candidate) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address in IPv6 clothing (`::ffff:127.0.0.1`) as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// One entry of the operator's allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedTarget {
    /// A host name, matched without regard to case: allowed whatever it resolves to.
    Host(String),
    /// An address or a network: allowed though it is private, loopback or the like.
    Network(Network),
}

impl FromStr for AllowedTarget {
    type Err = String;

    /// `127.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`, or a host name such as `localhost`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("an allowed webhook target is empty".to_owned());
        }
        if let Some((address, prefix)) = raw.split_once('/') {
            let address = IpAddr::from_str(address)
                .map_err(|_| format!("`{raw}`: not a network (`10.0.0.0/8`)"))?;
            let longest = if address.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= longest)
                .ok_or_else(|| format!("`{raw}`: the prefix must be 0 to {longest}"))?;
            return Ok(AllowedTarget::Network(Network {
                address: canonical(address),
                prefix,
            }));
        }
        if let Ok(address) = IpAddr::from_str(raw.trim_start_matches('[').trim_end_matches(']')) {
            let address = canonical(address);
            let prefix = if address.is_ipv4() { 32 } else { 128 };
            return Ok(AllowedTarget::Network(Network { address, prefix }));
        }
        let valid_name = raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'));
        if !valid_name {
            return Err(format!("`{raw}`: not an address, a network or a host name"));
        }
        Ok(AllowedTarget::Host(
            raw.trim_end_matches('.').to_ascii_lowercase(),
        ))
    }
}

impl serde::Serialize for AllowedTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AllowedTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AllowedTarget {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedTarget::Host(host) => formatter.write_str(host),
            AllowedTarget::Network(network) => {
                let whole = if network.address.is_ipv4() { 32 } else { 128 };
                if network.prefix == whole {
                    write!(formatter, "{}", network.address)
                } else {
                    write!(formatter, "{}/{}", network.address, network.prefix)
                }
            }
        }
    }
}

/// Which targets webhooks may reach: every public address, and what the operator allows
/// beside (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    allowed: Vec<AllowedTarget>,
}

/// A webhook URL that may not be used, and why, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetRefused(String);

impl TargetPolicy {
    /// A policy that allows `allowed` beside the public addresses.
    pub fn new(allowed: Vec<AllowedTarget>) -> Self {
        TargetPolicy { allowed }
    }

    /// Parses the operator's list (addresses, networks, host names).
    pub fn parse(allowed: &[String]) -> Result<Self, String> {
        let allowed = allowed
            .iter()
            .map(|entry| entry.parse())
            .collect::<Result<Vec<AllowedTarget>, String>>()?;
        Ok(TargetPolicy { allowed })
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed
            .iter()
            .any(|allowed| matches!(allowed, AllowedTarget::Host(name) if *name == host))
    }

    /// Why `address` may not be reached; `None` when it is public or allowed.
    pub fn refusal(&self, address: IpAddr) -> Option<&'static str> {
        let reason = forbidden_reason(address)?;
        let allowed = self.allowed.iter().any(|allowed| {
            matches!(allowed, AllowedTarget::Network(network) if network.contains(address))
        });
        (!allowed).then_some(reason)
    }

    /// What the URL's host is, as far as it can be told without DNS: an address that may
    /// not be reached is refused at once, as is a `localhost` name; `Ok(None)` for a host
    /// whose addresses are checked as it resolves (or that the operator allowed by name).
    fn check_host(&self, url: &Url) -> Result<Option<String>, TargetRefused> {
        let address = match url.host() {
            None => return Err(TargetRefused("webhook.url: must name a host".to_owned())),
            Some(Host::Ipv4(address)) => IpAddr::V4(address),
            Some(Host::Ipv6(address)) => IpAddr::V6(address),
            Some(Host::Domain(name)) => {
                if self.allows_host(name) {
                    return Ok(None);
                }
                if is_local_name(name) {
                    return Err(TargetRefused(format!(
                        "webhook.url: `{name}` is this machine; webhooks go to public addresses only"
                    )));
                }
                return Ok(Some(name.to_owned()));
            }
        };
        if let Some(reason) = self.refusal(address) {
            return Err(TargetRefused(format!(
                "webhook.url: {address} is {reason}; webhooks go to public addresses only"
            )));
        }
        Ok(None)
    }

    /// Checks a webhook URL as a task is submitted: its literal address, or every address
    /// its host resolves to now. A host that does not resolve is refused too: nothing could
    /// be delivered to it.
    pub async fn check_url(&self, url: &Url) -> Result<(), TargetRefused> {
        let Some(name) = self.check_host(url)? else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((name.as_str(), port));
        let addresses: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            Ok(Ok(addresses)) => addresses.collect(),
            Ok(Err(error)) => {
                return Err(TargetRefused(format!(
                    "webhook.url: `{name}` does not resolve: {error}"
                )));
            }
            Err(_) => {
                return Err(TargetRefused(format!(
                    "webhook.url: `{name}` did not resolve within {} s",
                    RESOLVE_TIMEOUT.as_secs()
                )));
            }
        };
        if addresses.is_empty() {
            return Err(TargetRefused(format!(
                "webhook.url: `{name}` has no addresses"
            )));
        }
        for address in addresses {
            if let Some(reason) = self.refusal(address.ip()) {
                return Err(TargetRefused(format!(
                    "webhook.url: `{name}` resolves to {}, {reason}; webhooks go to public addresses only",
                    address.ip()
                )));
            }
        }
        Ok(())
    }

    /// Checks a URL as a message is about to be sent: a literal address or a `localhost`
    /// name is refused here; a host name's addresses are filtered by [`GuardedResolver`].
    pub fn check_before_sending(&self, url: &Url) -> Result<(), TargetRefused> {
        self.check_host(url).map(|_| ())
    }
}

/// The HTTP client's resolver: it resolves as the system does, then drops every address the
/// policy refuses, and fails when none is left, so that no connection to a refused address
/// is ever opened.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    /// A resolver that enforces `policy`.
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        GuardedResolver { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.allows_host(&host) {
                return Ok(Box::new(resolved.into_iter()) as reqwest::dns::Addrs);
            }
            let mut refused = Vec::new();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match policy.refusal(address.ip()) {
                    None => true,
                    Some(reason) => {
                        refused.push(format!("{} ({reason})", address.ip()));
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> = if refused.is_empty() {
                    format!("`{host}` has no addresses").into()
                } else {
                    format!(
                        "`{host}` resolves only to refused addresses: {}",
                        refused.join(", ")
                    )
                    .into()
                };
                return Err(error);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(address: &str) -> bool {
        forbidden_reason(address.parse().unwrap()).is_some()
    }

    #[test]
    fn loopback_private_link_local_and_metadata_addresses_are_refused() {
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(refused(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(address), "{address} must be allowed");
        }
    }

    #[test]
    fn the_allow_list_takes_addresses_networks_and_names() {
        let policy = TargetPolicy::parse(&[
            "127.0.0.1".to_owned(),
            "10.0.0.0/8".to_owned(),
            "Receiver.Internal.".to_owned(),
        ])
        .unwrap();
        assert_eq!(policy.refusal("127.0.0.1".parse().unwrap()), None);
        assert_eq!(policy.refusal("::ffff:127.0.0.1".parse().unwrap()), None);
        assert!(policy.refusal("127.0.0.2".parse().unwrap()).is_some());
        assert_eq!(policy.refusal("10.200.0.1".parse().unwrap()), None);
        assert!(policy.refusal("192.168.0.1".parse().unwrap()).is_some());
        assert!(policy.allows_host("receiver.internal"));
        assert!(!policy.allows_host("other.internal"));
    }

    #[test]
    fn a_malformed_allow_list_entry_is_an_error_that_names_it() {
        for entry in ["10.0.0.0/33", "nonsense/8", "", "two words"] {
            let error = TargetPolicy::parse(&[entry.to_owned()]).unwrap_err();
            assert!(error.contains(entry.trim()) || entry.is_empty(), "{error}");
        }
    }

    #[tokio::test]
    async fn a_submission_to_a_private_literal_or_localhost_is_refused_unless_allowed() {
        let strict = TargetPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "http://[::ffff:192.168.0.1]/",
        ] {
            let error = strict
                .check_url(&Url::parse(url).unwrap())
                .await
                .unwrap_err();
            assert!(error.0.starts_with("webhook.url: "), "{url}: {error}");
        }
        let lenient =
            TargetPolicy::parse(&["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        lenient
            .check_url(&Url::parse("http://127.0.0.1:8080/hook").unwrap())
            .await
            .unwrap();
        lenient
            .check_url(&Url::parse("http://localhost:8080/hook").unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let strict = GuardedResolver::new(Arc::new(TargetPolicy::default()));
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        let error = match strict.resolve(name).await {
            Ok(_) => panic!("localhost must not resolve through the guard"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("refused"), "{error}");

        let allowed = GuardedResolver::new(Arc::new(
            TargetPolicy::parse(&["127.0.0.0/8".to_owned(), "::1".to_owned()]).unwrap(),
        ));
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        let addresses: Vec<SocketAddr> = allowed.resolve(name).await.unwrap().collect();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    }
}
