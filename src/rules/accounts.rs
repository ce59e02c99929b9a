//! Dealer groups: which Calltouch account a document's deal belongs to. One 1C base may hold
//! several dealerships, each with its own Calltouch account; `[groups]` rules pick the account
//! by the document's department (`ПодразделениеКомпании`) or organisation (`Организация`),
//! named by description or code; an existing deal stays in its account. Pure: the config, the
//! snapshot and the deal as the register knows it in, a choice out.

use std::collections::BTreeMap;

use super::DocumentError;
use crate::domain::deal::DealRecord;
use crate::domain::snapshot::{CatalogItem, DocumentSnapshot};

/// The name the `[calltouch]` account goes by when `[groups]` does not rename it.
pub const MAIN_ACCOUNT: &str = "main";

/// One Calltouch account and the documents it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub site_id: String,
    /// Department descriptions or codes whose documents go to this account.
    pub departments: Vec<String>,
    /// Organisation descriptions or codes, used when no department rule matches.
    pub organisations: Vec<String>,
}

/// Every account of the config, and which one (if any) takes the documents no rule chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// The `[calltouch]` account first, then `[[groups.accounts]]` in file order.
    pub list: Vec<Account>,
    /// Index into `list` of the default account; `None` = such documents are not sent.
    pub rest: Option<usize>,
}

/// Where a document's deal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice<'a> {
    /// To this account; `basis` says which rule chose it, for the register and `preview`.
    Account { account: &'a Account, basis: String },
    /// No account takes it: not sent, and the register says why.
    NotSent { reason: String },
}

impl Accounts {
    /// Only one account, taking everything: the single-account setup.
    pub fn is_single(&self) -> bool {
        self.list.len() == 1
    }

    pub fn by_name(&self, name: &str) -> Option<&Account> {
        self.list.iter().find(|account| account.name == name)
    }

    /// Rules two accounts share: the same department or organisation named twice. Each line
    /// names both accounts and the name they share.
    pub fn overlaps(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (what, pick) in [
            (
                "groups: department",
                (|a: &Account| &a.departments) as fn(&Account) -> &Vec<String>,
            ),
            ("groups: organisation", |a: &Account| &a.organisations),
        ] {
            let mut owners: BTreeMap<String, &str> = BTreeMap::new();
            for account in &self.list {
                for name in pick(account) {
                    let key = rule_key(name);
                    match owners.get(&key) {
                        Some(owner) if *owner != account.name => found.push(format!(
                            "{what} «{}» is named by accounts `{owner}` and `{}`; keep it in one",
                            name.trim(),
                            account.name
                        )),
                        Some(_) => {}
                        None => {
                            owners.insert(key, &account.name);
                        }
                    }
                }
            }
        }
        found
    }

    /// The account of a document that has no deal yet. Department rules come first (a
    /// department is narrower than an organisation), then organisation rules, then the default.
    /// A document whose department (or organisation) two accounts claim — one by description,
    /// one by code — is an error naming the field, since the config cannot tell which was meant.
    pub fn choose(&self, snapshot: &DocumentSnapshot) -> Result<Choice<'_>, DocumentError> {
        for (field, what, item, rules) in [
            (
                "ПодразделениеКомпании",
                "department",
                snapshot.department.as_ref(),
                (|a: &Account| &a.departments) as fn(&Account) -> &Vec<String>,
            ),
            (
                "Организация",
                "organisation",
                snapshot.organisation.as_ref(),
                |a: &Account| &a.organisations,
            ),
        ] {
            let Some(item) = item else { continue };
            let claimed: Vec<&Account> = self
                .list
                .iter()
                .filter(|account| rules(account).iter().any(|rule| names(rule, item)))
                .collect();
            match claimed.as_slice() {
                [] => {}
                [account] => {
                    return Ok(Choice::Account {
                        account,
                        basis: format!("{what} {}", describe(Some(item))),
                    })
                }
                [first, second, ..] => {
                    return Err(DocumentError {
                        field,
                        message: format!(
                            "{what} {} is claimed by accounts `{}` and `{}` (one by description, \
                             one by code); keep it in one account's [groups] rules",
                            describe(Some(item)),
                            first.name,
                            second.name
                        ),
                    })
                }
            }
        }
        match self.rest {
            Some(index) => Ok(Choice::Account {
                account: &self.list[index],
                basis: "the default account for the rest".into(),
            }),
            None => Ok(Choice::NotSent {
                reason: format!(
                    "no account takes department {} / organisation {} and [groups] rest = \"none\"; \
                     name it in an account's rules or set [groups] rest to an account",
                    describe(snapshot.department.as_ref()),
                    describe(snapshot.organisation.as_ref())
                ),
            }),
        }
    }
}

impl Accounts {
    /// The account a document's requests go to, given the deal it belongs to if one exists.
    /// An existing deal stays in the account it was created in: a work order made in another
    /// department updates its booking's deal there (item 11), and a document moved to another
    /// department after its deal exists creates no second deal; the note says so for the
    /// register. A deal with no recorded account is in the `[calltouch]` account.
    pub fn place(
        &self,
        snapshot: &DocumentSnapshot,
        deal: Option<&DealRecord>,
    ) -> Result<(Choice<'_>, Option<String>), DocumentError> {
        let Some(deal) = deal else {
            return Ok((self.choose(snapshot)?, None));
        };
        let held = deal.account.as_deref().unwrap_or(&self.list[0].name);
        let Some(account) = self.by_name(held) else {
            return Err(DocumentError {
                field: "ПодразделениеКомпании",
                message: format!(
                    "its deal {} is in account `{held}`, which the config no longer names; \
                     put the account back in [groups] so the deal's updates reach it",
                    deal.order_number
                ),
            });
        };
        let now = match self.choose(snapshot) {
            Ok(Choice::Account { account: now, .. }) if now.name == account.name => None,
            Ok(Choice::Account {
                account: now,
                basis,
            }) => Some(format!(
                "by {basis} it belongs to account `{}` now; its deal {} stays in `{held}`, \
                 where it was created",
                now.name, deal.order_number
            )),
            Ok(Choice::NotSent { .. }) | Err(_) => Some(format!(
                "no account takes it now; its deal {} stays in `{held}`, where it was created",
                deal.order_number
            )),
        };
        let basis = format!("its deal {} is in this account", deal.order_number);
        Ok((Choice::Account { account, basis }, now))
    }
}

/// A rule names an item by its description or its code, ignoring case and outer spaces.
fn names(rule: &str, item: &CatalogItem) -> bool {
    let rule = rule_key(rule);
    rule == rule_key(&item.description) || item.code.as_deref().map(rule_key) == Some(rule)
}

fn rule_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn describe(item: Option<&CatalogItem>) -> String {
    match item {
        None => "(не указано)".into(),
        Some(CatalogItem {
            description,
            code: Some(code),
        }) => format!("«{description}» (код {code})"),
        Some(item) => format!("«{}»", item.description),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_test_config, Config, MINIMAL_TEST_CONFIG};
    use crate::domain::snapshot::{DocKind, DocRef};
    use chrono::NaiveDate;

    fn config(groups: &str) -> Result<Config, crate::config::ConfigError> {
        parse_test_config(&format!("{MINIMAL_TEST_CONFIG}\n{groups}"))
    }

    const TWO: &str = r#"
        [groups]
        main = "north"
        departments = ["Сервис Север"]
        rest = "none"
        [[groups.accounts]]
        name = "south"
        site_id = "222"
        token_env = "SOUTH_TOKEN"
        departments = ["000000002"]
        organisations = ["ООО Юг"]
    "#;

    fn item(description: &str, code: &str) -> Option<CatalogItem> {
        Some(CatalogItem {
            description: description.into(),
            code: Some(code.into()),
        })
    }

    fn doc(department: Option<CatalogItem>, organisation: Option<CatalogItem>) -> DocumentSnapshot {
        let date = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        DocumentSnapshot {
            department,
            organisation,
            ..DocumentSnapshot::new(DocKind::Booking, DocRef([7; 16]), "000001", date)
        }
    }

    fn chosen(accounts: &Accounts, snapshot: &DocumentSnapshot) -> String {
        match accounts.choose(snapshot).unwrap() {
            Choice::Account { account, .. } => account.name.clone(),
            Choice::NotSent { reason } => format!("not sent: {reason}"),
        }
    }

    #[test]
    fn a_config_without_groups_sends_everything_to_its_one_account() {
        let accounts = Accounts::of(&config("").unwrap());
        assert!(accounts.is_single());
        assert_eq!(accounts.list[0].site_id, "123");
        assert_eq!(chosen(&accounts, &doc(None, None)), MAIN_ACCOUNT);
        assert_eq!(
            chosen(&accounts, &doc(item("Сервис Юг", "2"), None)),
            MAIN_ACCOUNT
        );
    }

    #[test]
    fn departments_are_named_by_description_or_code_in_any_case() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        assert_eq!(
            chosen(&accounts, &doc(item(" сервис север ", "000000001"), None)),
            "north"
        );
        assert_eq!(
            chosen(&accounts, &doc(item("Сервис Юг", "000000002"), None)),
            "south"
        );
        assert_eq!(accounts.by_name("south").unwrap().site_id, "222");
    }

    #[test]
    fn the_department_outranks_the_organisation() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        let north_in_south_org = doc(item("Сервис Север", "1"), item("ООО Юг", "9"));
        assert_eq!(chosen(&accounts, &north_in_south_org), "north");
        let other_department = doc(item("Кузовной", "5"), item("ООО Юг", "9"));
        assert_eq!(chosen(&accounts, &other_department), "south");
    }

    #[test]
    fn without_a_default_an_unmatched_document_is_not_sent_and_says_why() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        let outcome = chosen(&accounts, &doc(item("Кузовной", "5"), None));
        assert!(outcome.starts_with("not sent:"), "{outcome}");
        assert!(outcome.contains("«Кузовной» (код 5)"), "{outcome}");
        assert!(outcome.contains("rest"), "{outcome}");
    }

    #[test]
    fn a_named_default_takes_the_rest() {
        let text = TWO.replace("rest = \"none\"", "rest = \"south\"");
        let accounts = Accounts::of(&config(&text).unwrap());
        assert_eq!(chosen(&accounts, &doc(None, None)), "south");
    }

    #[test]
    fn one_item_claimed_by_description_and_by_code_is_a_document_error() {
        let text = TWO.replace("[\"000000002\"]", "[\"Сервис Юг\"]").replace(
            "departments = [\"Сервис Север\"]",
            "departments = [\"000000002\"]",
        );
        let accounts = Accounts::of(&config(&text).unwrap());
        let error = accounts
            .choose(&doc(item("Сервис Юг", "000000002"), None))
            .unwrap_err();
        assert_eq!(error.field, "ПодразделениеКомпании");
        assert!(error.message.contains("`north` and `south`"), "{error}");
    }

    fn deal_in(account: Option<&str>) -> DealRecord {
        DealRecord {
            order_number: "ЗР-2026-000001".into(),
            root: DocRef([7; 16]),
            driver: DocRef([7; 16]),
            driver_kind: DocKind::Booking,
            driver_date: None,
            driver_number: None,
            status: None,
            revenue: None,
            manager: None,
            account: account.map(str::to_string),
        }
    }

    fn placed(
        accounts: &Accounts,
        snapshot: &DocumentSnapshot,
        deal: &DealRecord,
    ) -> (String, Option<String>) {
        let (choice, note) = accounts.place(snapshot, Some(deal)).unwrap();
        let Choice::Account { account, .. } = choice else {
            panic!("an existing deal is always sent to: {choice:?}")
        };
        (account.name.clone(), note)
    }

    #[test]
    fn a_moved_document_keeps_its_deal_where_it_is_and_says_so() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        let moved_south = doc(item("Сервис Юг", "000000002"), None);
        let (account, note) = placed(&accounts, &moved_south, &deal_in(Some("north")));
        assert_eq!(account, "north");
        let note = note.expect("the move is noted");
        assert!(
            note.contains("account `south` now") && note.contains("stays in `north`"),
            "{note}"
        );
        // Still in its own department: nothing to note.
        let home = doc(item("Сервис Север", "1"), None);
        assert_eq!(
            placed(&accounts, &home, &deal_in(Some("north"))),
            ("north".into(), None)
        );
        // A deal from before dealer groups is in the [calltouch] account.
        assert_eq!(placed(&accounts, &home, &deal_in(None)).0, "north");
    }

    #[test]
    fn a_work_order_of_another_department_updates_its_bookings_deal() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        let unmatched_work_order = doc(item("Кузовной", "5"), None);
        let (account, note) = placed(&accounts, &unmatched_work_order, &deal_in(Some("south")));
        assert_eq!(account, "south");
        assert!(note.unwrap().contains("no account takes it now"));
    }

    #[test]
    fn a_deal_in_an_account_the_config_dropped_is_a_document_error() {
        let accounts = Accounts::of(&config(TWO).unwrap());
        let error = accounts
            .place(&doc(None, None), Some(&deal_in(Some("west"))))
            .unwrap_err();
        assert!(error.message.contains("`west`"), "{error}");
    }

    #[test]
    fn overlapping_rules_are_refused_at_load() {
        let text = TWO.replace("[\"000000002\"]", "[\"сервис север\", \"000000002\"]");
        let error = config(&text).unwrap_err().to_string();
        assert!(error.contains("config key `groups`"), "{error}");
        assert!(error.contains("«сервис север»"), "{error}");
        assert!(error.contains("`north` and `south`"), "{error}");
    }

    #[test]
    fn group_mistakes_name_their_key() {
        for (from, to, key) in [
            (
                "site_id = \"222\"",
                "site_id = \"x\"",
                "groups.accounts[0].site_id",
            ),
            (
                "name = \"south\"",
                "name = \"north\"",
                "groups.accounts[0].name",
            ),
            ("rest = \"none\"", "rest = \"west\"", "groups.rest"),
            (
                "organisations = [\"ООО Юг\"]\n        departments = [\"000000002\"]",
                "",
                "groups.accounts[0].departments",
            ),
        ] {
            let text = TWO
                .replace(
                    "departments = [\"000000002\"]\n        organisations = [\"ООО Юг\"]",
                    "organisations = [\"ООО Юг\"]\n        departments = [\"000000002\"]",
                )
                .replace(from, to);
            let error = config(&text).unwrap_err().to_string();
            assert!(error.contains(&format!("`{key}`")), "{key}: {error}");
        }
    }

    #[test]
    fn each_account_reads_its_own_token() {
        let text = TWO.replace("SOUTH_TOKEN", "ALFA_GROUPS_TEST_SOUTH_UNSET");
        let config = config(&text).unwrap();
        let error = config.account_token("south").unwrap_err().to_string();
        assert!(
            error.contains("groups.accounts[0].token_env")
                && error.contains("ALFA_GROUPS_TEST_SOUTH_UNSET"),
            "{error}"
        );
        assert!(config.account_token("west").is_err());
    }
}
