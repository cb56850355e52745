//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.

use serde_json::{Value, json};

pub fn document() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let status = json!({ "$ref": "#/components/schemas/CampaignStatus" });
    let name = json!({ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } });
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
                    "attempts_in_flight": { "type": "integer" }, "attempts_total": { "type": "integer" } } }
            }
        }
    })
}
