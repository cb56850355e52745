//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.

use serde_json::{Value, json};

pub fn document() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let status = json!({ "$ref": "#/components/schemas/CampaignStatus" });
    let name = json!({ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } });
    let phone = json!({ "name": "phone", "in": "path", "required": true, "schema": { "type": "string" },
        "description": "E.164 number; the leading + as is or as %2B" });
    let report = json!({ "$ref": "#/components/schemas/SuppressionImport" });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "campaignd admin API", "version": env!("CARGO_PKG_VERSION") },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/vendors": { "get": {
                "summary": "Configured vendors: kind, cap, calls in flight, open circuit (reason and until when) or null",
                "responses": { "200": { "description": "{ vendors: [ { id, kind, max_concurrency, in_flight, circuit_open, polls } ] }" }, "401": { "description": "missing or wrong token" } }
            } },
            "/api/v1/campaigns": { "get": {
                "summary": "All campaigns with contact counts by state",
                "responses": {
                    "200": { "description": "campaigns", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "campaigns": { "type": "array", "items": status } } } } } },
                    "401": { "description": "missing or wrong token", "content": { "application/json": { "schema": error } } }
                } } },
            "/api/v1/campaigns/{name}": { "get": {
                "summary": "One campaign's status",
                "parameters": [name],
                "responses": {
                    "200": { "description": "status", "content": { "application/json": { "schema": status } } },
                    "404": { "description": "no such campaign", "content": { "application/json": { "schema": error } } }
                } } },
            "/api/v1/campaigns/{name}/{action}": { "post": {
                "summary": "Pause, resume or cancel a campaign",
                "parameters": [name, { "name": "action", "in": "path", "required": true,
                    "schema": { "type": "string", "enum": ["pause", "resume", "cancel"] } }],
                "responses": {
                    "200": { "description": "state changed", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "name": { "type": "string" }, "from": { "type": "string" }, "to": { "type": "string" } } } } } },
                    "409": { "description": "not allowed in the current state", "content": { "application/json": { "schema": error } } }
                } } },
            "/api/v1/campaigns/{name}/contacts/{phone}/explain": { "get": {
                "summary": "Why a contact was or was not called: its decisions (own and its zone group's) in time order, attempts, the number's suppression entry and its dials in the last 7 days across all campaigns",
                "parameters": [name, phone],
                "responses": {
                    "200": { "description": "the trail", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Explanation" } } } },
                    "400": { "description": "unreadable phone number", "content": { "application/json": { "schema": error } } },
                    "404": { "description": "no such campaign, or the number is not a contact of it", "content": { "application/json": { "schema": error } } }
                } } },
            "/api/v1/suppressions": {
                "get": {
                    "summary": "Export the suppression list: entries in force, or all with `all=true` (each with `active`)",
                    "parameters": [
                        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "csv"], "default": "json" } },
                        { "name": "all", "in": "query", "schema": { "type": "boolean", "default": false } }
                    ],
                    "responses": { "200": { "description": "the list", "content": {
                        "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Suppression" } } },
                        "text/csv": { "schema": { "type": "string", "description": "phone,reason,source,created_at,expires_at[,active]; expires_at `never` for entries that never expire" } } } } }
                },
                "post": {
                    "summary": "Import entries. Never weakens an entry: where a number is listed, the entry that lasts longer wins (never beats any date), with its reason and source. Bad rows are reported, good rows imported",
                    "parameters": [
                        { "name": "reason", "in": "query", "schema": { "type": "string" }, "description": "for entries without one" },
                        { "name": "source", "in": "query", "schema": { "type": "string", "default": "api" } },
                        { "name": "expires", "in": "query", "schema": { "type": "string" }, "description": "for entries without one: never (default), 90d, 2026-12-31 (the whole day UTC) or RFC 3339" },
                        { "name": "country_code", "in": "query", "schema": { "type": "string" }, "description": "for national numbers" }
                    ],
                    "requestBody": { "required": true, "content": {
                        "text/csv": { "schema": { "type": "string", "description": "header: phone[,reason][,source][,expires_at]" } },
                        "application/json": { "schema": { "type": "array", "items": { "type": "object", "required": ["phone"], "properties": {
                            "phone": { "type": "string" }, "reason": { "type": "string" }, "source": { "type": "string" },
                            "expires_at": { "type": ["string", "null"], "description": "null: never" } } } } } } },
                    "responses": {
                        "200": { "description": "counts and rejected rows", "content": { "application/json": { "schema": report } } },
                        "400": { "description": "no valid entry (nothing imported), an unreadable header or body", "content": { "application/json": { "schema": error } } },
                        "413": { "description": "body too large", "content": { "application/json": { "schema": error } } },
                        "415": { "description": "neither text/csv nor application/json", "content": { "application/json": { "schema": error } } }
                    }
                }
            },
            "/api/v1/suppressions/{phone}": { "delete": {
                "summary": "Take a number off the suppression list (the only way an entry is shortened)",
                "parameters": [phone],
                "responses": {
                    "200": { "description": "removed", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "phone": { "type": "string" }, "removed": { "type": "boolean" } } } } } },
                    "400": { "description": "unreadable phone number", "content": { "application/json": { "schema": error } } },
                    "404": { "description": "not on the list", "content": { "application/json": { "schema": error } } }
                } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
                "CampaignStatus": { "type": "object", "properties": {
                    "name": { "type": "string" }, "state": { "type": "string" },
                    "contacts": { "type": "object", "additionalProperties": { "type": "integer" } },
                    "total_contacts": { "type": "integer" },
                    "attempts_in_flight": { "type": "integer" }, "attempts_total": { "type": "integer" } } },
                "Suppression": { "type": "object", "properties": {
                    "phone": { "type": "string" }, "reason": { "type": "string" }, "source": { "type": "string" },
                    "created_at": { "type": "string", "format": "date-time" },
                    "expires_at": { "type": ["string", "null"], "format": "date-time", "description": "null: never" },
                    "active": { "type": "boolean", "description": "only with all=true" } } },
                "SuppressionImport": { "type": "object", "properties": {
                    "rows": { "type": "integer" }, "added": { "type": "integer" },
                    "extended": { "type": "integer", "description": "listed before; the imported entry lasts longer and replaced it" },
                    "unchanged": { "type": "integer", "description": "listed at least as long already (or a shorter duplicate in the same import)" },
                    "rejected": { "type": "integer" },
                    "errors": { "type": "array", "items": { "type": "object", "properties": {
                        "line": { "type": "integer", "description": "CSV line (header = 1)" },
                        "item": { "type": "integer", "description": "JSON array element (1-based)" },
                        "column": { "type": "string" }, "message": { "type": "string" } } } } } },
                "Explanation": { "type": "object", "properties": {
                    "campaign": { "type": "object", "properties": { "name": { "type": "string" }, "state": { "type": "string" }, "timezone": { "type": "string" } } },
                    "contact": { "type": "object", "description": "id, phone, case_id, state, attempt_seq, due_at, timezone, zones, zone_source, finished_reason, last_disposition, last_intent, last_raw_code, created_at, updated_at" },
                    "local_timezone": { "type": "string" },
                    "suppression": { "type": ["object", "null"], "description": "reason, source, created_at, expires_at, active" },
                    "decisions": { "type": "array", "items": { "type": "object", "properties": {
                        "id": { "type": "integer" }, "at": { "type": "string", "format": "date-time" },
                        "scope": { "type": "string", "enum": ["contact", "group"] },
                        "kind": { "type": "string", "description": "dispatched, deferred, capped, busy, suppressed, retry, done, exhausted, stopped, callback" },
                        "reason": { "type": "string" }, "attempt_no": { "type": ["integer", "null"] },
                        "next_at": { "type": ["string", "null"], "format": "date-time" },
                        "zones": { "type": ["string", "null"] }, "detail": {} } } },
                    "decisions_truncated": { "type": "boolean" },
                    "attempts": { "type": "array", "items": { "type": "object", "description": "attempt_no, vendor_id, state, disposition, intent, raw_code, raw_intent, error, created_at, dispatched_at, completed_at, duration_ms" } },
                    "recent_dials": { "type": "array", "items": { "type": "object", "description": "campaign, vendor_id, dialed_at, disposition, intent, raw_code, vendor_redial" } },
                    "dials_since": { "type": "string", "format": "date-time" } } }
            }
        }
    })
}
