using MlPipelines.ChatTemplates;
using MlPipelines.ManagedEngine.Chat;

namespace MlPipelines.Fuzz.Targets;

/// <summary>
/// Chat-template source (<c>chat_template.jinja</c> beside a model), parsed and rendered for a short conversation as
/// <c>mlpipe chat</c> does. A template that fails to parse is an <see cref="InvalidDataException"/> naming the file; a
/// template that refuses a conversation raises a <see cref="ChatTemplateException"/> about the conversation, whose
/// message need not name the file.
/// </summary>
public sealed class ChatTemplateTarget : FuzzTarget
{
    public override int CiInputs => 8000;

    private static readonly ChatMessage[] Conversation =
        [new("system", "Be brief."), new("user", "Hello"), new("assistant", "Hi!"), new("user", "Tell me a story.")];

    public override string Name => "chat-template";
    public override string EntryPoint => "ChatFormat.FromDirectory(directory).Render";
    public override bool IsTemplate => true;
    public override bool RendersTemplates => true;

    public override IReadOnlyList<Type> AllowedExceptions { get; } = [typeof(InvalidDataException), typeof(ChatTemplateException)];

    public override bool MessageMustNameFile(Exception failure) => failure is not ChatTemplateException;

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
    [
        System.Text.Encoding.UTF8.GetBytes(seeds.Llama3ChatTemplate),
        // Llama 2's template (as its tokenizer_config.json carried it): system prompt folding, raise_exception, slicing.
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"u8.ToArray(),
        // ChatML with a namespace, macros, filters and tojson.
        "{%- macro fmt(m) -%}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n{%- endmacro -%}{%- set ns = namespace(n=0) -%}{%- for m in messages -%}{%- set ns.n = ns.n + 1 -%}{{ fmt(m) }}{{ '\n' if not loop.last }}{%- endfor -%}{%- if add_generation_prompt %}<|im_start|>assistant {{ ns.n }} {{ messages | length }} {{ {'a': [1, 2.5, none, true]} | tojson }}{%- endif -%}"u8.ToArray(),
    ];

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        scratch.Write(ChatFormat.TemplateFileName, input);
        ChatFormat.FromDirectory(scratch.Path)?.Render(Conversation, addGenerationPrompt: true);
    }
}
