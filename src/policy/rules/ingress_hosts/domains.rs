//! Whether a host falls inside (or a wildcard reaches into) the hostnames
//! handed to another tenant: its own `ingress.hostnames`, or the Settings'
//! `ingressHostnames` with `{tenant}` filled in.
//!
//! A pattern hands its tenant a domain: the name it is written on (a
//! wildcard's suffix) and every name below it, so `*.acme.example` hands
//! acme `acme.example`, `shop.acme.example` and `a.b.acme.example` (see
//! [`Host::reaches_domain`] for how a requested wildcard reaches one).
//! Tenants' own patterns are indexed by the inventory; the Settings'
//! templates are solved for the tenant name from the host instead of being
//! expanded for every tenant.

use super::Ctx;
use crate::hosts::{is_at_or_below, normalize, suffixes, Host};

const PLACEHOLDER: &str = "{tenant}";

/// Whether `host`, requested by `tenant`, reaches into a domain handed to
/// another declared tenant.
pub(super) fn reaches_foreign(ctx: &Ctx<'_>, tenant: &str, host: &Host) -> bool {
    if ctx.inventory.hostname_owners(host).any(|t| t != tenant) {
        return true;
    }
    let templates = &ctx.settings.ingress_hostnames;
    if templates.is_empty() || ctx.inventory.tenants_on_settings_hostnames() == 0 {
        return false;
    }
    templates
        .iter()
        .any(|t| template_reaches(ctx, tenant, &template_root(t), host))
}

/// The root of the domain a Settings pattern hands out, `{tenant}` left in.
fn template_root(pattern: &str) -> String {
    let n = normalize(pattern.trim());
    match n.strip_prefix("*.") {
        Some(rest) => rest.to_string(),
        None => n,
    }
}

/// Whether another tenant on the Settings' patterns holds a domain, rooted
/// at `root` with its name filled in, that `host` reaches into.
fn template_reaches(ctx: &Ctx<'_>, tenant: &str, root: &str, host: &Host) -> bool {
    let inv = ctx.inventory;
    let other_holder = |t: &str| t != tenant && inv.is_on_settings_hostnames(t);
    // Some holder besides the requester (who, asking, holds no pattern).
    let any_other = || {
        let own = usize::from(inv.is_on_settings_hostnames(tenant));
        inv.tenants_on_settings_hostnames() > own
    };
    if !root.contains(PLACEHOLDER) {
        return host.reaches_domain(root) && any_other();
    }
    // Domains at or above the host's name: the tenant is read off the host.
    if suffixes(host.name())
        .filter_map(|cand| solve(root, cand))
        .any(|t| other_holder(&t))
    {
        return true;
    }
    // Domains strictly below a wildcard's suffix.
    let Host::Wildcard(suffix) = host else {
        return false;
    };
    let tail = root.rsplit(PLACEHOLDER).next().unwrap_or(root);
    let below = format!(".{suffix}");
    if tail.ends_with(&below) {
        // Every holder's domain is below it.
        return any_other();
    }
    if !below.ends_with(tail) {
        return false;
    }
    // Whether a holder's domain is below depends on its name: rare (a
    // wildcard that cuts into the placeholder), so look at each holder.
    inv.tenant_names().any(|t| {
        other_holder(t) && {
            let r = root.replace(PLACEHOLDER, &t.to_ascii_lowercase());
            r != *suffix && is_at_or_below(&r, suffix)
        }
    })
}

/// The tenant name that makes `root` (with one or more `{tenant}`) equal
/// `name`, if any.
fn solve(root: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = root.split(PLACEHOLDER).collect();
    let k = parts.len() - 1;
    let literal: usize = parts.iter().map(|p| p.len()).sum();
    let rest = name.len().checked_sub(literal)?;
    if k == 0 || rest == 0 || rest % k != 0 {
        return None;
    }
    let len = rest / k;
    let start = parts[0].len();
    let t = name.get(start..start + len)?;
    (root.replace(PLACEHOLDER, t) == name).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn solve_reads_the_tenant_off_a_name() {
        let cases = [
            ("{tenant}.apps.example.com", "acme.apps.example.com", Some("acme")),
            ("{tenant}.apps.example.com", "apps.example.com", None),
            ("{tenant}.apps.example.com", "acme.apps.example.org", None),
            ("{tenant}.apps.example.com", "a.b.apps.example.com", Some("a.b")),
            ("app-{tenant}.example.com", "app-acme.example.com", Some("acme")),
            ("{tenant}.{tenant}.example", "acme.acme.example", Some("acme")),
            ("{tenant}.{tenant}.example", "acme.globex.example", None),
            ("{tenant}.{tenant}.example", "ab.example", None),
            ("apps.example.com", "apps.example.com", None),
        ];
        for (root, name, want) in cases {
            assert_eq!(solve(root, name).as_deref(), want, "{root} ~ {name}");
        }
        assert_eq!(template_root("*.{tenant}.Apps.Example.com."), "{tenant}.apps.example.com");
        assert_eq!(template_root("{tenant}.example.com"), "{tenant}.example.com");
    }
}
