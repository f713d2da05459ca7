// docs/openapi.yaml as a response (and request) validator: the OpenAPI 3.0
// schemas are turned into JSON Schema (nullable -> type [T, "null"]) and
// compiled with ajv; $refs resolve against the whole document.
//
// Rule for statuses: a 1xx-3xx/2xx status must be listed by the operation;
// an error status is either listed or covered by the operation's `default`
// response, and its body must then match that response's schema.
import fs from 'node:fs';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const SPEC_ID = 'iotvault-openapi';

// OpenAPI 3.0 Schema Object -> JSON Schema (draft 2019/2020 subset ajv understands).
function convert(node) {
	if (Array.isArray(node)) return node.map(convert);
	if (node === null || typeof node !== 'object') return node;
	const out = {};
	for (const [k, v] of Object.entries(node)) {
		if (k === 'nullable' || k === 'example' || k === 'examples' || k === 'discriminator' ||
		    k === 'xml' || k === 'externalDocs' || k === 'deprecated' || k === 'readOnly' ||
		    k === 'writeOnly') continue;
		out[k] = convert(v);
	}
	if (node.nullable === true) {
		if (typeof out.type !== 'string') return { anyOf: [out, { type: 'null' }] };
		out.type = [out.type, 'null'];
		if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
	}
	return out;
}

function pointerEscape(s) { return s.replace(/~/g, '~0').replace(/\//g, '~1'); }

function templateRegex(template) {
	const re = template.split('/').map((seg) => (/^\{.+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
	return new RegExp(`^${re}$`);
}

export function loadSpec(file) {
	const doc = YAML.parse(fs.readFileSync(file, 'utf8'));
	const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
	addFormats(ajv);
	// only the parts that hold schemas are registered: paths/components
	ajv.addSchema({ $id: SPEC_ID, paths: convert(doc.paths), components: convert(doc.components) });
	const cache = new Map();
	const compile = (pointer) => {
		if (!cache.has(pointer)) cache.set(pointer, ajv.compile({ $ref: `${SPEC_ID}#${pointer}` }));
		return cache.get(pointer);
	};
	const resolve = (obj) => {
		// follows a $ref to a component (responses, requestBodies, parameters)
		while (obj && obj.$ref) {
			const parts = obj.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
			obj = parts.reduce((o, p) => (o ? o[p] : undefined), doc);
		}
		return obj;
	};
	const routes = Object.keys(doc.paths).map((t) => ({ template: t, re: templateRegex(t) }));

	const findOperation = (method, urlPath) => {
		const p = urlPath.split('?')[0];
		const candidates = routes.filter((r) => r.re.test(p));
		// literal segments beat placeholders: /audit/verify before /audit/{x}
		candidates.sort((a, b) => (a.template.match(/\{/g) || []).length - (b.template.match(/\{/g) || []).length);
		for (const r of candidates) {
			const op = doc.paths[r.template][method.toLowerCase()];
			if (op) return { template: r.template, op };
		}
		return { template: candidates[0]?.template ?? null, op: null };
	};

	// Locates the response schema of (method, path, status); returns
	// {pointer|null, response, listed}.
	const responseFor = (method, template, op, status) => {
		const base = `/paths/${pointerEscape(template)}/${method.toLowerCase()}/responses`;
		let key = String(status);
		let response = op.responses[key];
		if (!response && op.responses[`${key[0]}XX`]) key = `${key[0]}XX`;
		response = op.responses[key];
		let listed = !!response;
		if (!response && status >= 400 && op.responses.default) {
			key = 'default';
			response = op.responses.default;
		}
		if (!response) return null;
		const resolved = resolve(response);
		let pointer = null;
		const content = resolved.content && resolved.content['application/json'];
		if (content && content.schema) {
			if (response.$ref) {
				const name = response.$ref.split('/').pop();
				pointer = `/components/responses/${pointerEscape(name)}/content/application~1json/schema`;
			} else pointer = `${base}/${pointerEscape(key)}/content/application~1json/schema`;
		}
		return { pointer, response: resolved, listed };
	};

	const spec = {
		doc,
		findOperation,
		// Throws (assert) when RES does not match the document.
		validateResponse(method, urlPath, res) {
			const { template, op } = findOperation(method, urlPath);
			const what = `${method} ${urlPath.split('?')[0]} -> ${res.status}`;
			if (!op) {
				// undocumented routes must be refused the documented way
				assert.ok(res.status === 404 || res.status === 405, `${what}: not in docs/openapi.yaml`);
				const v = compile('/components/schemas/Error');
				assert.ok(v(res.body), `${what}: error body: ${ajv.errorsText(v.errors)}`);
				return;
			}
			const r = responseFor(method, template, op, res.status);
			assert.ok(r, `${what}: status not documented for ${template} in docs/openapi.yaml`);
			if (res.status < 400) assert.ok(r.listed, `${what}: success status not listed`);
			if (r.pointer === null) {
				assert.equal(res.text, '', `${what}: documented without a body but has one`);
				return;
			}
			assert.match(String(res.headers['content-type'] || ''), /^application\/json/, `${what}: content type`);
			assert.notEqual(res.body, undefined, `${what}: body is not JSON`);
			const v = compile(r.pointer);
			if (!v(res.body)) {
				// field names and schema paths only: bodies may carry keys
				assert.fail(`${what}: body does not match docs/openapi.yaml: ${ajv.errorsText(v.errors)}`);
			}
		},
		// {ok, errors} of a request body against the operation's requestBody schema.
		validateRequest(method, urlPath, body) {
			const { template, op } = findOperation(method, urlPath);
			assert.ok(op && op.requestBody, `${method} ${urlPath}: no requestBody in the document`);
			const rb = resolve(op.requestBody);
			let pointer;
			if (op.requestBody.$ref) {
				const name = op.requestBody.$ref.split('/').pop();
				pointer = `/components/requestBodies/${pointerEscape(name)}/content/application~1json/schema`;
			} else pointer = `/paths/${pointerEscape(template)}/${method.toLowerCase()}/requestBody/content/application~1json/schema`;
			assert.ok(rb.content['application/json'].schema);
			const v = compile(pointer);
			const ok = v(body);
			return { ok, errors: ok ? '' : ajv.errorsText(v.errors) };
		},
		// Compiles every schema of the document (fails on a broken $ref).
		compileAll() {
			const pointers = [];
			for (const [t, item] of Object.entries(doc.paths))
				for (const [m, op] of Object.entries(item)) {
					if (!op || typeof op !== 'object' || !op.responses) continue;
					for (const status of Object.keys(op.responses)) {
						const r = responseFor(m, t, op, status === 'default' ? 599 : Number(status));
						if (r && r.pointer) pointers.push(r.pointer);
					}
					// raw bodies (firmware images) have no JSON schema to compile
					if (op.requestBody && resolve(op.requestBody).content?.['application/json'])
						spec.validateRequest(m.toUpperCase(), t, {});
				}
			for (const name of Object.keys(doc.components?.schemas || {}))
				pointers.push(`/components/schemas/${pointerEscape(name)}`);
			for (const p of pointers) if (p) compile(p);
			return pointers.length;
		},
	};
	return spec;
}
