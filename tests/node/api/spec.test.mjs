// docs/openapi.yaml against itself and against the route tables of
// src/http/*.c (no server needed): every schema compiles, every route the
// code serves is documented with the same roles, and every documented
// operation is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { SPEC_PATH, SRC_DIR } from './harness.mjs';
import { loadSpec } from './openapi.mjs';

const ROLE_BITS = { ROLE_ADMIN: 'admin', ROLE_OPERATOR: 'operator', ROLE_AUDITOR: 'auditor', ROLE_VIEWER: 'viewer' };

// {"GET", "/api/v1/devices", list_devices, ROLES_ALL, 0},
function codeRoutes() {
	const dir = path.join(SRC_DIR, 'src/http');
	const routes = [];
	for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.c'))) {
		let text = fs.readFileSync(path.join(dir, f), 'utf8');
		// role macros of the file (#define ANY_SESSION (ROLES_ALL | ...))
		for (const d of [...text.matchAll(/^#define (\w+) (\(.*\))$/gm)])
			text = text.replace(new RegExp(`\\b${d[1]}\\b(?!\\s+\\()`, 'g'), d[2]);
		const re = /\{\s*"(GET|POST|PUT|PATCH|DELETE|HEAD)"\s*,\s*"([^"]+)"\s*,\s*\w+\s*,\s*([^,]+?)\s*,\s*([^}]+?)\s*\}/g;
		for (let m; (m = re.exec(text));) {
			const rolesExpr = m[3];
			let roles = [];
			if (/ROLES_ALL/.test(rolesExpr)) roles = ['admin', 'operator', 'auditor', 'viewer'];
			else for (const [bit, name] of Object.entries(ROLE_BITS)) if (rolesExpr.includes(bit)) roles.push(name);
			const flags = m[4];
			routes.push({ file: f, method: m[1], path: m[2], roles, public: /ROUTE_PUBLIC/.test(flags),
				usersOnly: /ROUTE_USERS_ONLY/.test(flags) });
		}
	}
	return routes;
}

const spec = loadSpec(SPEC_PATH);

test('every schema of docs/openapi.yaml compiles and every $ref resolves', () => {
	assert.equal(spec.doc.openapi, '3.0.3');
	assert.ok(spec.compileAll() > 20);
	const text = fs.readFileSync(SPEC_PATH, 'utf8');
	for (const m of text.matchAll(/\$ref: "#\/([^"]+)"/g)) {
		const target = m[1].split('/').reduce((o, k) => (o ? o[k] : undefined), spec.doc);
		assert.ok(target, `$ref #/${m[1]} resolves`);
	}
});

test('every operation declares x-roles, responses and a default error', () => {
	for (const [p, item] of Object.entries(spec.doc.paths))
		for (const [m, op] of Object.entries(item)) {
			if (m === 'parameters') continue;
			assert.ok(Array.isArray(op['x-roles']), `${m} ${p}: x-roles`);
			assert.ok(op.responses.default, `${m} ${p}: default response`);
			assert.ok(op.operationId, `${m} ${p}: operationId`);
		}
});

test('the route tables of src/http/*.c and docs/openapi.yaml agree', () => {
	const routes = codeRoutes();
	assert.ok(routes.length >= 10, 'route tables found');
	const documented = new Set();
	for (const [p, item] of Object.entries(spec.doc.paths))
		for (const m of Object.keys(item)) if (m !== 'parameters') documented.add(`${m.toUpperCase()} ${p}`);
	const served = new Set();
	const problems = [];
	for (const r of routes) {
		const key = `${r.method} ${r.path}`;
		served.add(key);
		const op = spec.doc.paths[r.path]?.[r.method.toLowerCase()];
		if (!op) { problems.push(`${key} (${r.file}) is not documented`); continue; }
		const docRoles = [...op['x-roles']].sort().join(',');
		const codeRoles = r.public ? '' : [...r.roles].sort().join(',');
		if (docRoles !== codeRoles)
			problems.push(`${key}: roles in code [${codeRoles}] != documented [${docRoles}]`);
		if (r.public !== (op.security?.length === 0))
			problems.push(`${key}: public in code ${r.public}, documented security ${JSON.stringify(op.security)}`);
		if (r.usersOnly !== !!op['x-users-only'])
			problems.push(`${key}: users-only in code ${r.usersOnly}, documented ${!!op['x-users-only']}`);
	}
	for (const d of documented) if (!served.has(d)) problems.push(`${d} is documented but not served`);
	assert.deepEqual(problems, []);
});
