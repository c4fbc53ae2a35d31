/**
 * Chat templates: the real Qwen2 template (tokenizer_config.json) renders exactly as
 * @huggingface/jinja renders it directly, and tokenizes with its control tokens parsed and no BOS;
 * a template that writes BOS itself does not get a second one; template errors are 400s.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Template } from "@huggingface/jinja";
import { ChatTemplate, encodeChatPrompt } from "../../src/server/chat-template.js";
import { ApiError } from "../../src/server/errors.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { sharedModels, stories } from "../helpers/paths.js";

const qwenDir = path.join(sharedModels, "tokenizers", "qwen2");
const qwenConfig = JSON.parse(fs.readFileSync(path.join(qwenDir, "tokenizer_config.json"), "utf8")) as { chat_template: string; eos_token: string };
const qwen = loadTokenizer(path.join(qwenDir, "tokenizer.json"));
const IM_START = 151644;
const IM_END = 151645;

const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Hello! 你好" },
  { role: "assistant", content: "Hi there." },
  { role: "user", content: "Tell me a joke." },
];

test("qwen2 template: same text as @huggingface/jinja directly; control tokens parsed, no BOS added", () => {
  const t = ChatTemplate.forTokenizer(qwenConfig.chat_template, qwen);
  const rendered = t.render(messages);
  const direct = new Template(qwenConfig.chat_template).render({ messages, add_generation_prompt: true, bos_token: "", eos_token: qwenConfig.eos_token });
  assert.equal(rendered, direct);
  assert.equal(rendered,
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello! 你好<|im_end|>\n" +
    "<|im_start|>assistant\nHi there.<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n");
  const ids = encodeChatPrompt(qwen, rendered);
  assert.deepEqual(ids, qwen.encode(rendered, { addSpecial: false, parseSpecial: true }));
  assert.equal(ids[0], IM_START);
  assert.equal(ids.filter((id) => id === IM_START).length, 5);
  assert.equal(ids.filter((id) => id === IM_END).length, 4);
  assert.equal(qwen.decode(ids), rendered);
});

test("qwen2 template: tools and chat_template_kwargs reach the template", () => {
  const t = ChatTemplate.forTokenizer(qwenConfig.chat_template, qwen);
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
  const rendered = t.render([{ role: "user", content: "Weather?" }], { tools, kwargs: { enable_thinking: false } });
  const direct = new Template(qwenConfig.chat_template).render({
    messages: [{ role: "user", content: "Weather?" }], tools, enable_thinking: false, add_generation_prompt: true, bos_token: "", eos_token: qwenConfig.eos_token,
  });
  assert.equal(rendered, direct);
  assert.match(rendered, /<tools>\n\{"type": "function", "function": \{"name": "get_weather"/);
  assert.ok(rendered.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
});

test("BOS: added once, whether or not the template writes it", () => {
  const spm = loadTokenizer(stories("stories260K.gguf"));
  const withBos = ChatTemplate.forTokenizer("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", spm).render([{ role: "user", content: "Once upon a time" }]);
  const without = ChatTemplate.forTokenizer("{% for m in messages %}{{ m.content }}{% endfor %}", spm).render([{ role: "user", content: "Once upon a time" }]);
  assert.ok(withBos.startsWith("<s>"));
  const a = encodeChatPrompt(spm, withBos);
  const b = encodeChatPrompt(spm, without);
  assert.equal(a[0], spm.bosId);
  assert.notEqual(a[1], spm.bosId);
  assert.deepEqual(b, spm.encode("Once upon a time"));
  assert.deepEqual(a, b);
});

test("template errors: raise_exception and bad data are 400s; a syntax error throws at construction", () => {
  const spm = loadTokenizer(stories("stories260K.gguf"));
  const strict = ChatTemplate.forTokenizer("{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok", spm);
  assert.equal(strict.render([{ role: "user", content: "x" }]), "ok");
  assert.throws(() => strict.render([{ role: "system", content: "x" }]), (e: unknown) =>
    e instanceof ApiError && e.status === 400 && /first message must be from the user/.test(e.message));
  assert.throws(() => ChatTemplate.forTokenizer("{% for m in messages %}", spm));
});
