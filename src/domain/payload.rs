//! The Calltouch Deals API 2.0 bodies (`client-order/create`, `client-order/update`) as Rust types.
//!
//! Field names and shapes follow `calltouch-api.md` §1-§2. Optional fields are left out of the
//! JSON when empty, because the rules must be able to "not send" a value (Table 3).

use serde::{Deserialize, Serialize};

/// Body of `POST client-order/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub crm: String,
    pub orders: Vec<CreateOrder>,
}

/// One deal in a create request (Table 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrder {
    pub matching: Vec<Matching>,
    pub order_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_date: Option<String>,
    pub order_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Comment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<Tag>,
}

/// `comment: {"text": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    pub text: String,
}

/// `addTags[]` element on create: `{"tag": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub tag: String,
}

/// One `matching[]` entry; the order of entries is the matching priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Matching {
    #[serde(rename = "callContact")]
    CallContact {
        #[serde(rename = "callContactParams")]
        params: CallContactParams,
    },
    #[serde(rename = "requestContact")]
    RequestContact {
        #[serde(rename = "requestContactParams")]
        params: RequestContactParams,
    },
    #[serde(rename = "customSources")]
    CustomSources {
        #[serde(rename = "customSourceParams")]
        params: CustomSourceParams,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallContactParams {
    pub phones: Vec<String>,
    pub date: String,
    pub call_type_to_match: String,
    pub search_depth: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestContactParams {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    pub date: String,
    pub request_type_to_match: String,
    pub search_depth: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomSourceParams {
    pub source: String,
    pub medium: String,
    pub campaign: String,
}

/// Body of `POST client-order/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    pub orders: Vec<UpdateOrder>,
}

/// One deal in an update request (Table 3): only what changed is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateOrder {
    pub order_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}

/// Body of `POST client-order/delete` (used by the emulator's test helpers only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRequest {
    pub order_numbers: Vec<String>,
}

/// The response envelope: `{"data": {"orders": [...]}}`, one result per order in request order
/// (`calltouch-api.md` §4, inferred from client code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdersResponse {
    pub data: OrdersResponseData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdersResponseData {
    pub orders: Vec<OrderResult>,
}

/// One order's result: an id when accepted, an `error` text when rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResult {
    #[serde(default)]
    pub order_number: Option<String>,
    #[serde(default)]
    pub calltouch_order_id: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
}
