<?php
// The PHP-FPM peer of bench/run.sh: POST /orders the way an ops team's PHP service does it. PDO SQLite with a
// persistent handle per FPM child (WAL; synchronous from ORDER_SYNC, normal by default), JSON parsed and the
// required fields checked, one row inserted in its own transaction, 201 {"id":N,"status":"created"}.
// GET /healthz: 200 {"status":"ok"}. nginx sends every request here (SCRIPT_FILENAME); ORDER_DB and
// ORDER_SYNC come from the pool's env[] lines (bench/php/php-fpm.conf.in).
header('Content-Type: application/json');

function answer(int $status, string $body): void
{
    http_response_code($status);
    header('Content-Length: ' . strlen($body));
    echo $body;
}

$path = strtok($_SERVER['DOCUMENT_URI'] ?? $_SERVER['REQUEST_URI'] ?? '/', '?');
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
if ($path === '/healthz' && ($method === 'GET' || $method === 'HEAD')) {
    answer(200, '{"status":"ok"}');
    return;
}
if ($path !== '/orders' || $method !== 'POST') {
    answer(404, '{"error":{"code":"not_found","message":"no such route"}}');
    return;
}

$body = file_get_contents('php://input');
if ($body === false || $body === '' || strlen($body) > 65536) {
    answer(400, '{"error":{"code":"bad_body","message":"an order body of at most 64k is required"}}');
    return;
}
$o = json_decode($body, true);
if (!is_array($o)) {
    answer(400, '{"error":{"code":"invalid_json","message":"the body is not JSON"}}');
    return;
}
$valid = is_string($o['customer']['phone'] ?? null) && $o['customer']['phone'] !== ''
    && is_string($o['currency'] ?? null) && strlen($o['currency']) === 3
    && is_array($o['items'] ?? null) && count($o['items']) > 0;
foreach ($valid ? $o['items'] : [] as $it) {
    $valid = $valid && is_string($it['sku'] ?? null) && $it['sku'] !== ''
        && is_int($it['quantity'] ?? null) && $it['quantity'] > 0
        && is_int($it['unit_price_cents'] ?? null) && $it['unit_price_cents'] >= 0;
}
if (!$valid) {
    answer(422, '{"error":{"code":"invalid_order","message":"customer.phone, currency and items are required"}}');
    return;
}

try {
    // Persistent: the handle outlives the request in this child, as PHP shops run SQLite or any database.
    // The pragma is per connection and cheap; set it every time rather than guess whether the handle is new.
    $db = new PDO('sqlite:' . getenv('ORDER_DB'), null, null, [
        PDO::ATTR_PERSISTENT => true,
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_TIMEOUT => 5,  // busy_timeout: the children are separate writers on one file
    ]);
    $db->exec('PRAGMA synchronous=' . (getenv('ORDER_SYNC') === 'full' ? 'FULL' : 'NORMAL'));
    $insert = $db->prepare('INSERT INTO orders(body, created_at) VALUES(?, ?)');
    $insert->execute([$body, (int) (microtime(true) * 1000)]);
    $id = (int) $db->lastInsertId();
} catch (PDOException $e) {
    error_log('order.php: insert failed: ' . $e->getMessage());
    answer(500, '{"error":{"code":"store_failed","message":"insert failed"}}');
    return;
}
answer(201, '{"id":' . $id . ',"status":"created"}');
