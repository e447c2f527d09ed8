using MlPipelines.ChatTemplates.Runtime;
using MlPipelines.ChatTemplates.Syntax;

namespace MlPipelines.ChatTemplates;

/// <summary>
/// A Hugging Face chat template (the <c>chat_template</c> of <c>tokenizer_config.json</c>), rendered as
/// <c>tokenizer.apply_chat_template(messages, add_generation_prompt=..., tokenize=False)</c> renders it.
/// </summary>
/// <remarks>
/// <para>
/// This is its own small Jinja2 interpreter rather than a package because no .NET package served to this repository
/// implements Jinja2: the template engines on NuGet are Liquid (Fluid, DotLiquid), Handlebars, Scriban or Razor,
/// whose syntax and semantics differ. Byte-for-byte agreement with Hugging Face needs Jinja's exact whitespace rules
/// and Python's value semantics, which is what this component implements for the subset chat templates use.
/// </para>
/// <para>
/// The environment is Hugging Face's: <c>ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)</c> with
/// the <c>loopcontrols</c> extension (<c>break</c>, <c>continue</c>), its <c>tojson</c> filter
/// (<c>json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)</c>) and the globals
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c>. Undefined values behave as Jinja's default
/// <c>Undefined</c>: they print as nothing, are false and iterate empty, and raise when used in arithmetic or when
/// their attributes are read.
/// </para>
/// <para>
/// Supported: <c>{{ }}</c>, <c>{% %}</c>, <c>{# #}</c>, whitespace control (<c>-</c>, <c>+</c>), <c>raw</c>;
/// <c>if</c>/<c>elif</c>/<c>else</c>; <c>for</c> (tuple unpacking, <c>else</c>, an <c>if</c> filter, <c>loop.*</c>,
/// <c>break</c>/<c>continue</c>); <c>set</c> (names, tuples, <c>ns.attr</c>, block set); <c>macro</c>;
/// <c>filter</c> blocks; Hugging Face's <c>generation</c> block; literals, attribute and item access, slicing,
/// calls, arithmetic, <c>~</c>, comparisons, <c>and</c>/<c>or</c>/<c>not</c>, <c>in</c>, conditional expressions,
/// tests, filters, and the string, dict and list methods templates call. Not supported: template inheritance and
/// inclusion (<c>extends</c>, <c>include</c>, <c>import</c>, <c>block</c>), <c>call</c> blocks, recursive loops,
/// <c>*args</c>/<c>**kwargs</c> in calls.
/// </para>
/// </remarks>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Stmt> body;

    private ChatTemplate(string source, IReadOnlyList<Stmt> body)
    {
        Source = source;
        this.body = body;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses a template.</summary>
    /// <exception cref="ChatTemplateException">A syntax error, with its line and column.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, Parser.Parse(source));
    }

    /// <summary>
    /// Renders a conversation as Hugging Face's <c>apply_chat_template(messages, tokenize=False, ...)</c> does:
    /// the template sees <c>messages</c>, <c>tools</c>, <c>documents</c>, <c>add_generation_prompt</c>, the special
    /// tokens that are set, and <see cref="ChatTemplateContext.Variables"/>.
    /// </summary>
    /// <exception cref="ChatTemplateException">
    /// The template raised (<see cref="ChatTemplateException.RaisedByTemplate"/>, with the template's own message) or
    /// failed while rendering.
    /// </exception>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatTemplateContext? context = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        context ??= new ChatTemplateContext();
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.ToList(),
            ["tools"] = context.Tools,
            ["documents"] = context.Documents,
            ["add_generation_prompt"] = context.AddGenerationPrompt,
        };
        if (context.BosToken != null) variables["bos_token"] = context.BosToken;
        if (context.EosToken != null) variables["eos_token"] = context.EosToken;
        if (context.UnkToken != null) variables["unk_token"] = context.UnkToken;
        if (context.PadToken != null) variables["pad_token"] = context.PadToken;
        if (context.Variables != null)
            foreach (var (name, value) in context.Variables) variables[name] = value;
        return RenderCore(variables, context.TimeProvider);
    }

    /// <summary>
    /// Renders with exactly the given variables (nothing is added): strings, numbers, booleans, null (<c>none</c>),
    /// dictionaries, lists, <see cref="ChatMessage"/> and JSON values.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template raised or failed while rendering.</exception>
    public string Render(IDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return RenderCore(variables.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), null);
    }

    /// <summary>
    /// Renders with exactly the given variables, reading <c>strftime_now</c>'s clock from <paramref name="timeProvider"/>.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template raised or failed while rendering.</exception>
    public string Render(IDictionary<string, object?> variables, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return RenderCore(variables.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), timeProvider);
    }

    private string RenderCore(IReadOnlyDictionary<string, object?> variables, TimeProvider? time)
    {
        try
        {
            using RenderBudget.Scope budget = RenderBudget.Begin();
            return new Evaluator(time ?? TimeProvider.System).Render(body, variables);
        }
        catch (TemplateRuntimeError e)
        {
            throw new ChatTemplateException(e.Message, raisedByTemplate: e.RaisedByTemplate);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new ChatTemplateException("the template nests too deeply to render");
        }
    }
}
