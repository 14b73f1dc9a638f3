//! What a rule declares about itself ([`Rule`]), and the `registry!` macro
//! that turns the one list of rules in `rules.rs` into [`RuleId`],
//! [`RuleParams`] and the engine's dispatch.
//!
//! Every fact about a rule lives in its own file, as the associated items of
//! its `impl Rule`; nothing here or in the engine names a rule. The generated
//! `match`es list every rule and have no catch-all arm, so a rule cannot be
//! half-registered: it is either in the list (and then everywhere) or absent.
//!
//! [`RuleId`]: super::RuleId
//! [`RuleParams`]: super::RuleParams

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Ctx, Draft, Operation, Scope, Violation};
pub use crate::model::GroupKind;

/// The kinds a rule judges. The engine does not call a rule for a kind
/// outside them (and skips the mutation copy when no mutating rule judges
/// the kind), so a rule must list every kind it can find anything in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    /// Every kind, e.g. a rule about labels any object may carry.
    Any,
    /// Only these.
    Only(&'static [GroupKind]),
}

impl Kinds {
    pub fn contains(&self, group: &str, kind: &str) -> bool {
        match self {
            Kinds::Any => true,
            Kinds::Only(list) => list.iter().any(|gk| gk.is(group, kind)),
        }
    }
}

/// What a rule does: judge the object, or change it.
pub enum Effect<P: 'static> {
    /// A validating rule: the violations it finds (none: admitted).
    Validate(fn(&Ctx<'_>, &P) -> Vec<Violation>),
    /// A mutating rule: changes the object through the [`Draft`] it is
    /// given, which holds what earlier mutating rules already changed (its
    /// view reads them); `Ctx::object` is the object as sent.
    Mutate(fn(&Ctx<'_>, &mut Draft<'_>, &P)),
}

impl<P> Effect<P> {
    pub const fn is_mutating(&self) -> bool {
        matches!(self, Effect::Mutate(_))
    }
}

/// Everything about one rule, declared in the rule's own file on a unit
/// struct. See `docs/rules.md` for the checklist of adding a rule.
pub trait Rule {
    /// The rule id of DESIGN.md, e.g. `require-limits`.
    const ID: &'static str;
    /// Tenant objects, or Namespace objects themselves.
    const SCOPE: Scope;
    /// The operations the rule judges (say why, in a comment).
    const OPERATIONS: &'static [Operation];
    /// The kinds the rule judges; `podspec::POD_KINDS` is Pod and every kind
    /// with a pod template.
    const KINDS: Kinds;
    /// For a `Kinds::Any` rule: the kinds it has checks specific to, beyond
    /// what it checks on every object (the chart must send them, metrics
    /// label them, `check` says they were judged in full). A `Kinds::Only`
    /// rule leaves this empty: its kinds are all specific.
    const SPECIFIC_KINDS: &'static [GroupKind] = &[];
    /// Subresources judged besides the main resource (default: none). A
    /// request for any other subresource (`pods/status`, `deployments/scale`)
    /// does not reach the rule.
    const SUBRESOURCES: &'static [&'static str] = &[];
    /// The rule's `spec.params`: serde with `deny_unknown_fields` and
    /// `rename_all = "camelCase"`; `Default` is what an absent `params` means.
    type Params: DeserializeOwned + Default + Clone + PartialEq + Debug + Send + Sync + 'static;
    /// Checks on parsed params that serde cannot make; the error names the
    /// field and says how to fix it.
    fn check_params(_params: &Self::Params) -> Result<(), String> {
        Ok(())
    }
    /// The rule's function; mutating or validating follows from it, and so
    /// do the default action (`Apply` / `Deny`) and the actions allowed.
    const EFFECT: Effect<Self::Params>;
}

/// Why a rule's `params` were refused. Shown after `spec.params of rule X: `
/// in the loader's `file:line` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// They do not fit the rule's `Params` (unknown field, wrong type).
    #[error("{0}")]
    Schema(String),
    /// They fit, but the rule's `check_params` refused them.
    #[error("{0}")]
    Check(String),
}

/// Reads `params` as `P` (absent or null: the default).
pub(super) fn typed<P: DeserializeOwned + Default>(v: Option<Value>) -> Result<P, ParamsError> {
    match v {
        None | Some(Value::Null) => Ok(P::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| ParamsError::Schema(e.to_string())),
    }
}

/// The one list of rules → the rule modules, `RuleId`, `RuleParams` and the
/// dispatch. Each line is `Variant => module::Struct` where `module` is the
/// rule's file under `src/policy/rules/` and `Struct` its `impl Rule`.
macro_rules! registry {
    ($($variant:ident => $module:ident :: $rule:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every rule id, in the order rules run and report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $($variant),+
        }

        const RULE_COUNT: usize = [$(stringify!($variant)),+].len();

        impl RuleId {
            pub const ALL: [RuleId; RULE_COUNT] = [$(RuleId::$variant),+];

            pub fn index(self) -> usize {
                self as usize
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::ID,)+
                }
            }

            pub fn is_mutating(self) -> bool {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::EFFECT.is_mutating(),)+
                }
            }

            pub fn scope(self) -> Scope {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::SCOPE,)+
                }
            }

            /// The operations the rule judges (the reasons are in its file).
            pub fn operations(self) -> &'static [Operation] {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::OPERATIONS,)+
                }
            }

            pub fn kinds(self) -> Kinds {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::KINDS,)+
                }
            }

            /// The kinds the rule has checks specific to: its `KINDS` list,
            /// or for a `Kinds::Any` rule its `SPECIFIC_KINDS`.
            pub fn specific_kinds(self) -> &'static [GroupKind] {
                match self.kinds() {
                    Kinds::Only(list) => list,
                    Kinds::Any => match self {
                        $(RuleId::$variant => <$module::$rule as Rule>::SPECIFIC_KINDS,)+
                    },
                }
            }

            pub fn subresources(self) -> &'static [&'static str] {
                match self {
                    $(RuleId::$variant => <$module::$rule as Rule>::SUBRESOURCES,)+
                }
            }
        }

        /// One rule's parameters, typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RuleParams {
            $($variant(<$module::$rule as Rule>::Params)),+
        }

        impl RuleParams {
            /// The parameters an absent `params` means.
            pub fn default_for(rule: RuleId) -> RuleParams {
                match rule {
                    $(RuleId::$variant => RuleParams::$variant(Default::default()),)+
                }
            }

            /// Parses and checks a rule's `params`; the error says what is wrong.
            pub fn parse(rule: RuleId, v: Option<Value>) -> Result<RuleParams, ParamsError> {
                Ok(match rule {
                    $(RuleId::$variant => {
                        let p = registry::typed(v)?;
                        <$module::$rule as Rule>::check_params(&p).map_err(ParamsError::Check)?;
                        RuleParams::$variant(p)
                    })+
                })
            }

            /// The rule these parameters are for.
            pub fn rule(&self) -> RuleId {
                match self {
                    $(RuleParams::$variant(_) => RuleId::$variant,)+
                }
            }

            /// Runs the rule if it is a validating one (a mutating rule finds
            /// nothing to report).
            pub fn validate(&self, ctx: &Ctx<'_>) -> Vec<Violation> {
                match self {
                    $(RuleParams::$variant(p) => match <$module::$rule as Rule>::EFFECT {
                        Effect::Validate(f) => f(ctx, p),
                        Effect::Mutate(_) => Vec::new(),
                    },)+
                }
            }

            /// Runs the rule on `draft` if it is a mutating one (a validating
            /// rule changes nothing).
            pub fn mutate(&self, ctx: &Ctx<'_>, draft: &mut Draft<'_>) {
                match self {
                    $(RuleParams::$variant(p) => match <$module::$rule as Rule>::EFFECT {
                        Effect::Mutate(f) => f(ctx, draft, p),
                        Effect::Validate(_) => {}
                    },)+
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::super::{RuleId, RuleParams};
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RuleId::ALL {
            let id = r.as_str();
            assert!(seen.insert(id), "rule id {id} is declared twice");
            assert!(
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "rule id {id:?} is not kebab-case"
            );
            assert_eq!(id.parse::<RuleId>(), Ok(r));
            assert_eq!(r.to_string(), id);
            assert_eq!(RuleId::ALL[r.index()], r);
        }
        assert_eq!("Tenant-Labels".parse::<RuleId>(), Err(()));
    }

    #[test]
    fn every_rule_declares_operations_and_kinds() {
        for r in RuleId::ALL {
            assert!(!r.operations().is_empty(), "{r}: OPERATIONS is empty");
            match r.kinds() {
                Kinds::Only(list) => {
                    assert!(!list.is_empty(), "{r}: Kinds::Only(&[]) judges nothing");
                    assert_eq!(r.specific_kinds(), list, "{r}");
                }
                Kinds::Any => {}
            }
            if r.scope() == Scope::Namespaces {
                const NAMESPACE: Kinds = Kinds::Only(&[GroupKind::new("", "Namespace")]);
                assert_eq!(
                    r.kinds(),
                    NAMESPACE,
                    "{r}: a Namespaces-scope rule judges Namespace objects"
                );
            }
        }
    }

    #[test]
    fn default_params_pass_their_own_checks() {
        for r in RuleId::ALL {
            let parsed = RuleParams::parse(r, None).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(parsed, RuleParams::default_for(r), "{r}");
            assert_eq!(parsed.rule(), r);
            assert_eq!(
                RuleParams::parse(r, Some(Value::Null)),
                Ok(RuleParams::default_for(r))
            );
        }
    }

    #[test]
    fn params_reject_unknown_fields_and_failed_checks() {
        for r in RuleId::ALL {
            let e = RuleParams::parse(r, Some(serde_json::json!({"noSuchField": 1})))
                .expect_err(r.as_str());
            assert!(
                matches!(&e, ParamsError::Schema(m) if m.contains("noSuchField")),
                "{r}: {e}"
            );
        }
        let e = RuleParams::parse(
            RuleId::RequireLimits,
            Some(serde_json::json!({"resources": ["cpu", " "]})),
        )
        .expect_err("blank resource");
        assert!(
            matches!(&e, ParamsError::Check(m) if m.contains("resources")),
            "{e}"
        );
    }

    #[test]
    fn kinds_match_group_and_kind_exactly() {
        const K: Kinds = Kinds::Only(&[GroupKind::new("apps", "Deployment")]);
        let k = K;
        assert!(k.contains("apps", "Deployment"));
        assert!(!k.contains("", "Deployment"));
        assert!(!k.contains("apps", "deployment"));
        assert!(!k.contains("apps.example.com", "Deployment"));
        assert!(Kinds::Any.contains("example.com", "Widget"));
    }
}
