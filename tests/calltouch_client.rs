//! The Calltouch client against the strict emulator, over real HTTP on loopback.

use std::time::Duration;

use alfa_calltouch::calltouch::client::{
    CalltouchClient, ClientError, Endpoint, Operation, OrderOutcome,
};
use alfa_calltouch::calltouch::settings::CalltouchConfig;
use alfa_calltouch::domain::payload::{
    CallContactParams, CreateOrder, CustomSourceParams, Matching, Tag, UpdateOrder,
};
use alfa_calltouch::ops::privacy::Secret;
use testkit::emulator::{Emulator, Fault};

const SITE_ID: &str = "12345";
const TOKEN: &str = "test-token-value";

/// Short timeouts and backoffs keep the suite fast; no rate limit unless a test sets one.
fn config(emulator: &Emulator) -> CalltouchConfig {
    CalltouchConfig {
        site_id: SITE_ID.into(),
        token_env: "UNUSED".into(),
        token_file: None,
        base_url: emulator.base_url(),
        batch_size: 100,
        requests_per_second: 0,
        connect_timeout_secs: 1,
        request_timeout_secs: 1,
        max_attempts: 3,
        backoff_initial_ms: 10,
        backoff_max_ms: 2_000,
    }
}

fn client(config: &CalltouchConfig) -> CalltouchClient {
    CalltouchClient::new(config, Secret::new(TOKEN), "1С Альфа-Авто".into()).unwrap()
}

async fn start() -> Emulator {
    Emulator::start(SITE_ID, TOKEN).await.unwrap()
}

fn create_order(number: &str) -> CreateOrder {
    CreateOrder {
        matching: vec![
            Matching::CallContact {
                params: CallContactParams {
                    phones: vec!["79157771122".into()],
                    date: "01-10-2024 12:00:00".into(),
                    call_type_to_match: "nearest".into(),
                    search_depth: 259_200,
                },
            },
            Matching::CustomSources {
                params: CustomSourceParams {
                    source: "офлайн визит".into(),
                    medium: "офлайн визит".into(),
                    campaign: "офлайн визит".into(),
                },
            },
        ],
        order_number: number.into(),
        status: Some("Предварительная заявка".into()),
        status_date: Some("01-10-2024 12:00:00".into()),
        order_date: "01-10-2024 12:00:00".into(),
        revenue: Some("1500.50".into()),
        manager: Some("Иванов И.И.".into()),
        comment: None,
        add_tags: vec![Tag {
            tag: "Сервис".into(),
        }],
    }
}

fn closing_update(number: &str) -> UpdateOrder {
    UpdateOrder {
        order_number: number.into(),
        status: Some("Закрыт".into()),
        status_date: Some("02-10-2024 18:30:00".into()),
        order_date: None,
        update_date: Some("02-10-2024 18:30:00".into()),
        revenue: Some("2100.00".into()),
        manager: None,
    }
}

fn creates(numbers: impl IntoIterator<Item = String>) -> Vec<Operation> {
    numbers
        .into_iter()
        .map(|number| Operation::Create(create_order(&number)))
        .collect()
}

fn is_accepted(outcome: &OrderOutcome, endpoint: Endpoint) -> bool {
    matches!(outcome, OrderOutcome::Accepted { calltouch_order_id: Some(_), via } if *via == endpoint)
}

/// Sends one create for `A-1` and checks that exactly one create landed, whatever the faults.
async fn send_one_create(emulator: &Emulator, config: &CalltouchConfig) -> OrderOutcome {
    let outcomes = client(config)
        .send(creates(["A-1".to_string()]))
        .await
        .unwrap();
    assert_eq!(emulator.creates_per_order().get("A-1"), Some(&1));
    outcomes.into_iter().next().unwrap()
}

#[tokio::test]
async fn create_then_update_is_accepted_and_merged() {
    let emulator = start().await;
    let client = client(&config(&emulator));
    let created = client.send(creates(["A-1".to_string()])).await.unwrap();
    assert!(is_accepted(&created[0], Endpoint::Create));

    let updated = client
        .send(vec![Operation::Update {
            order: closing_update("A-1"),
            fallback: create_order("A-1"),
        }])
        .await
        .unwrap();
    assert!(is_accepted(&updated[0], Endpoint::Update));

    let deal = &emulator.deals()["A-1"];
    assert_eq!(deal["status"], "Закрыт");
    assert_eq!(deal["revenue"], "2100.00");
    assert_eq!(deal["manager"], "Иванов И.И.");
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|r| r.token_matched && r.status == Some(200)));
    assert!(requests
        .iter()
        .all(|r| r.site_id.as_deref() == Some(SITE_ID)));
    assert!(requests.iter().all(|r| !r.body.contains(TOKEN)));
    emulator.shutdown().await;
}

#[tokio::test]
async fn more_than_a_hundred_orders_go_in_batches_of_at_most_a_hundred() {
    let emulator = start().await;
    let operations = creates((0..250).map(|n| format!("B-{n}")));
    let outcomes = client(&config(&emulator)).send(operations).await.unwrap();
    assert_eq!(outcomes.len(), 250);
    assert!(outcomes.iter().all(|o| is_accepted(o, Endpoint::Create)));

    let sizes: Vec<usize> = emulator
        .requests()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            body["orders"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(emulator.deals().len(), 250);
    emulator.shutdown().await;
}

#[tokio::test]
async fn creates_and_updates_go_in_separate_requests_and_results_keep_input_order() {
    let emulator = start().await;
    let client = client(&config(&emulator));
    client.send(creates(["C-1".to_string()])).await.unwrap();
    let outcomes = client
        .send(vec![
            Operation::Create(create_order("C-2")),
            Operation::Update {
                order: closing_update("C-1"),
                fallback: create_order("C-1"),
            },
            Operation::Create(create_order("C-3")),
        ])
        .await
        .unwrap();
    assert!(is_accepted(&outcomes[0], Endpoint::Create));
    assert!(is_accepted(&outcomes[1], Endpoint::Update));
    assert!(is_accepted(&outcomes[2], Endpoint::Create));
    let endpoints: Vec<String> = emulator
        .requests()
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    assert_eq!(
        endpoints,
        [
            "client-order/create",
            "client-order/create",
            "client-order/update"
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn requests_are_paced_to_the_configured_rate() {
    let emulator = start().await;
    let mut config = config(&emulator);
    config.batch_size = 1;
    config.requests_per_second = 5;
    client(&config)
        .send(creates((0..12).map(|n| format!("R-{n}"))))
        .await
        .unwrap();

    let times: Vec<_> = emulator.requests().iter().map(|r| r.received_at).collect();
    assert_eq!(times.len(), 12);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 200 ms slots. Arrival times are taken by the emulator, so a busy machine can delay one
    // arrival and shorten the gap after it; a burst (two requests in one slot) arrives a few
    // milliseconds apart, so half a slot still tells the two apart.
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(100)),
        "{gaps:?}"
    );
    // Eleven slots are 2.2 s; the first arrival may be the delayed one.
    assert!(times[11] - times[0] >= Duration::from_millis(2_000));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let emulator = start().await;
    emulator.push_fault(Fault::ServerError(503));
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    assert!(is_accepted(&outcome, Endpoint::Create));
    let statuses: Vec<_> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let emulator = start().await;
    emulator.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    assert!(is_accepted(&outcome, Endpoint::Create));
    let requests = emulator.requests();
    assert_eq!(requests[0].status, Some(429));
    assert!(requests[1].received_at - requests[0].received_at >= Duration::from_secs(1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_hang_past_the_request_timeout_is_retried() {
    let emulator = start().await;
    emulator.push_fault(Fault::Hang(Duration::from_millis(2_500)));
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    assert!(is_accepted(&outcome, Endpoint::Create));
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    // The second request was sent while the first still hung: the client gave up after its
    // 1 s timeout, with a second to spare for a loaded machine, not after the 2.5 s hang.
    assert!(requests[1].received_at - requests[0].received_at < Duration::from_millis(2_000));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let emulator = start().await;
    emulator.push_fault(Fault::DropConnection);
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    assert!(is_accepted(&outcome, Endpoint::Create));
    let statuses: Vec<_> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [None, Some(200)]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_malformed_answer_is_retried() {
    let emulator = start().await;
    emulator.push_fault(Fault::MalformedJson);
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    assert!(is_accepted(&outcome, Endpoint::Create));
    assert_eq!(emulator.requests().len(), 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn faults_beyond_the_retry_bound_leave_orders_deferred() {
    let emulator = start().await;
    for fault in [
        Fault::ServerError(500),
        Fault::DropConnection,
        Fault::MalformedJson,
    ] {
        emulator.push_fault(fault);
    }
    let outcomes = client(&config(&emulator))
        .send(creates(["D-1".to_string(), "D-2".to_string()]))
        .await
        .unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, OrderOutcome::Deferred { reason } if reason.contains("3 attempts"))));
    assert_eq!(emulator.requests().len(), 3);
    assert!(emulator.deals().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn unauthorized_stops_at_once() {
    let emulator = start().await;
    emulator.push_fault(Fault::Unauthorized);
    let result = client(&config(&emulator))
        .send(creates(["U-1".to_string()]))
        .await;
    assert!(matches!(
        result,
        Err(ClientError::Unauthorized { status: 401 })
    ));
    assert_eq!(emulator.requests().len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_never_shown() {
    let emulator = start().await;
    let config = config(&emulator);
    let client = CalltouchClient::new(&config, Secret::new("wrong-token"), "crm".into()).unwrap();
    let error = client.send(creates(["U-2".to_string()])).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { status: 401 }));
    assert!(!error.to_string().contains("wrong-token"));
    assert!(!format!("{error:?} {client:?}").contains("wrong-token"));
    assert!(!emulator.requests()[0].token_matched);
    emulator.shutdown().await;
}

#[tokio::test]
async fn one_rejected_order_does_not_fail_its_neighbours() {
    let emulator = start().await;
    emulator.push_fault(Fault::RejectOrder {
        order_number: "P-2".into(),
        error: "invalid phone".into(),
    });
    let outcomes = client(&config(&emulator))
        .send(creates(["P-1", "P-2", "P-3"].map(String::from)))
        .await
        .unwrap();
    assert!(is_accepted(&outcomes[0], Endpoint::Create));
    assert_eq!(
        outcomes[1],
        OrderOutcome::Rejected {
            reason: "invalid phone".into()
        }
    );
    assert!(is_accepted(&outcomes[2], Endpoint::Create));
    assert_eq!(emulator.requests().len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_create_of_an_existing_order_falls_back_to_update() {
    let emulator = start().await;
    let client = client(&config(&emulator));
    client.send(creates(["F-1".to_string()])).await.unwrap();
    let mut again = create_order("F-1");
    again.status = Some("Подтвержденная заявка".into());
    let outcomes = client.send(vec![Operation::Create(again)]).await.unwrap();
    assert!(is_accepted(&outcomes[0], Endpoint::Update));
    assert_eq!(emulator.creates_per_order()["F-1"], 1);
    assert_eq!(emulator.deals()["F-1"]["status"], "Подтвержденная заявка");
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_update_of_an_unknown_order_falls_back_to_create() {
    let emulator = start().await;
    let outcomes = client(&config(&emulator))
        .send(vec![Operation::Update {
            order: closing_update("G-1"),
            fallback: create_order("G-1"),
        }])
        .await
        .unwrap();
    assert!(is_accepted(&outcomes[0], Endpoint::Create));
    assert_eq!(emulator.creates_per_order()["G-1"], 1);
    let endpoints: Vec<String> = emulator
        .requests()
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    assert_eq!(endpoints, ["client-order/update", "client-order/create"]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_create_is_not_created_twice() {
    let emulator = start().await;
    emulator.push_fault(Fault::AcceptThenDrop);
    let outcome = send_one_create(&emulator, &config(&emulator)).await;
    // The retried create meets "already exists" and becomes an update.
    assert!(is_accepted(&outcome, Endpoint::Update));
    let endpoints: Vec<String> = emulator
        .requests()
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    assert_eq!(
        endpoints,
        [
            "client-order/create",
            "client-order/create",
            "client-order/update"
        ]
    );
    emulator.shutdown().await;
}

/// A raw request straight to the emulator, bypassing the client.
async fn post_raw(
    emulator: &Emulator,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", emulator.base_url()))
        .header("Access-Token", token)
        .header("SiteId", SITE_ID)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn raw_create(order_patch: serde_json::Value) -> String {
    let mut order = serde_json::to_value(create_order("S-1")).unwrap();
    for (key, value) in order_patch.as_object().unwrap() {
        order[key] = value.clone();
    }
    serde_json::json!({"crm": "x", "orders": [order]}).to_string()
}

#[tokio::test]
async fn the_emulator_rejects_bad_hand_made_bodies() {
    let emulator = start().await;
    let cases = [
        (
            TOKEN,
            raw_create(serde_json::json!({"colour": "red"})),
            400,
            "colour: unknown field",
        ),
        (
            TOKEN,
            raw_create(serde_json::json!({"orderDate": "2024-10-01 12:00:00"})),
            400,
            "orderDate",
        ),
        (
            TOKEN,
            raw_create(serde_json::json!({"revenue": 1500.5})),
            400,
            "revenue",
        ),
        (TOKEN, "{not json".to_string(), 400, "not JSON"),
        (
            "wrong",
            raw_create(serde_json::json!({})),
            401,
            "Access-Token",
        ),
    ];
    for (token, body, status, message) in cases {
        let (got_status, answer) = post_raw(&emulator, "client-order/create", token, &body).await;
        assert_eq!(got_status, status, "{body}");
        let problem = answer["data"]["validationErrorData"].as_str().unwrap();
        assert!(problem.contains(message), "{problem}");
    }
    let (status, _) = post_raw(&emulator, "client-order/upsert", TOKEN, "{}").await;
    assert_eq!(status, 404);
    assert!(emulator.deals().is_empty());
    let (status, _) = post_raw(
        &emulator,
        "client-order/create",
        TOKEN,
        &raw_create(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_whole_request_validation_error_rejects_every_order_of_the_batch() {
    let emulator = start().await;
    let mut bad = create_order("V-2");
    bad.revenue = Some("1 500,00".into());
    let outcomes = client(&config(&emulator))
        .send(vec![
            Operation::Create(create_order("V-1")),
            Operation::Create(bad),
        ])
        .await
        .unwrap();
    for outcome in &outcomes {
        let OrderOutcome::Rejected { reason } = outcome else {
            panic!("rejected expected, got {outcome:?}");
        };
        assert!(reason.starts_with("HTTP 400:") && reason.contains("orders[1].revenue"));
    }
    assert_eq!(
        emulator.requests().len(),
        1,
        "a validation error is not retried"
    );
    assert!(emulator.deals().is_empty());
    emulator.shutdown().await;
}

/// A dealer group: two accounts, one client each, one shared pacer. Each deal lands in its own
/// account with that account's headers, and the two together keep to 5 requests per second,
/// measured from the emulator's arrival times.
#[tokio::test]
async fn two_accounts_share_one_rate_limit_and_keep_their_deals_apart() {
    const SOUTH_SITE: &str = "67890";
    const SOUTH_TOKEN: &str = "south-token-value";
    let emulator = Emulator::start_accounts(&[(SITE_ID, TOKEN), (SOUTH_SITE, SOUTH_TOKEN)])
        .await
        .unwrap();
    let mut config = config(&emulator);
    config.requests_per_second = 5;
    config.batch_size = 1;
    let north = client(&config);
    let south = north
        .for_account(SOUTH_SITE, &Secret::new(SOUTH_TOKEN))
        .unwrap();
    let (north_outcomes, south_outcomes) = tokio::join!(
        north.send(creates((0..6).map(|i| format!("N-{i}")))),
        south.send(creates((0..6).map(|i| format!("S-{i}")))),
    );
    for outcome in north_outcomes
        .unwrap()
        .iter()
        .chain(&south_outcomes.unwrap())
    {
        assert!(is_accepted(outcome, Endpoint::Create), "{outcome:?}");
    }
    let names = |site: &str| emulator.deals_of(site).into_keys().collect::<Vec<_>>();
    assert_eq!(names(SITE_ID), ["N-0", "N-1", "N-2", "N-3", "N-4", "N-5"]);
    assert_eq!(
        names(SOUTH_SITE),
        ["S-0", "S-1", "S-2", "S-3", "S-4", "S-5"]
    );

    let requests = emulator.requests();
    assert_eq!(requests.len(), 12);
    for request in &requests {
        let site = if request.body.contains("\"N-") {
            SITE_ID
        } else {
            SOUTH_SITE
        };
        assert_eq!(request.site_id.as_deref(), Some(site));
        assert_eq!(request.account.as_deref(), Some(site));
        assert!(request.token_matched && request.status == Some(200));
    }
    // Any six consecutive requests of both accounts span about a second (5 per second in
    // total). Arrival times carry each request's way from the pacer to the emulator, which on a
    // loaded 2-core machine was seen to vary by up to 114 ms, so 200 ms are allowed; two pacers
    // of 5 per second each would put six requests within about 500 ms.
    for window in requests.windows(6) {
        let span = window[5].received_at - window[0].received_at;
        assert!(
            span >= Duration::from_millis(800),
            "six requests within {span:?}"
        );
    }

    // One account's token with the other's SiteId is refused and lands nowhere.
    let crossed = north.for_account(SOUTH_SITE, &Secret::new(TOKEN)).unwrap();
    let _ = crossed.send(creates(["X-1".to_string()])).await;
    let last = emulator.requests().pop().unwrap();
    assert_eq!((last.account, last.status), (None, Some(403)));
    assert!(!emulator.deals_of(SITE_ID).contains_key("X-1"));
    assert!(!emulator.deals_of(SOUTH_SITE).contains_key("X-1"));
}
