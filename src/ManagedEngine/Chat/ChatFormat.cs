using System.Text.Json;
using MlPipelines.ChatTemplates;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.ManagedEngine.Chat;

/// <summary>
/// How a model expects a conversation to be written: its chat template (Jinja, rendered by
/// <see cref="ChatTemplate"/> as Hugging Face's <c>apply_chat_template</c> renders it) and the special tokens the
/// template refers to. Found beside the model: <c>tokenizer_config.json</c>'s <c>chat_template</c> (a string, or a
/// list of named templates of which <c>default</c> is used), a <c>chat_template.jinja</c> file, or a GGUF file's
/// <c>tokenizer.chat_template</c>.
/// </summary>
public sealed class ChatFormat
{
    /// <summary>The file Hugging Face keeps tokenizer settings and the chat template in.</summary>
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    /// <summary>Where newer Hugging Face repositories keep the template on its own.</summary>
    public const string TemplateFileName = "chat_template.jinja";

    private const long MaxConfigBytes = 16 << 20;   // real tokenizer_config.json files with added tokens reach a few MB

    private ChatFormat(ChatTemplate template, string source, string? bos, string? eos, string? unk, string? pad)
    {
        Template = template;
        Source = source;
        BosToken = bos;
        EosToken = eos;
        UnkToken = unk;
        PadToken = pad;
    }

    /// <summary>The parsed template.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The file the template came from, for messages.</summary>
    public string Source { get; }

    /// <summary>The BOS token's text as the template sees it (<c>bos_token</c>), or null.</summary>
    public string? BosToken { get; }

    /// <summary>The EOS token's text (<c>eos_token</c>), or null.</summary>
    public string? EosToken { get; }

    /// <summary>The unknown token's text (<c>unk_token</c>), or null.</summary>
    public string? UnkToken { get; }

    /// <summary>The padding token's text (<c>pad_token</c>), or null.</summary>
    public string? PadToken { get; }

    /// <summary>
    /// Renders <paramref name="messages"/> as the model's prompt text, with the assistant's turn opened when
    /// <paramref name="addGenerationPrompt"/> is set; <paramref name="variables"/> are extra template variables
    /// (e.g. <c>date_string</c>).
    /// </summary>
    /// <exception cref="ChatTemplateException">The template refuses the conversation (e.g. roles that do not alternate).</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables = null) =>
        Template.Render(messages, new ChatTemplateContext
        {
            AddGenerationPrompt = addGenerationPrompt,
            BosToken = BosToken,
            EosToken = EosToken,
            UnkToken = UnkToken,
            PadToken = PadToken,
            Variables = variables,
        });

    /// <summary>The chat format of <paramref name="model"/>, or null when it has no chat template.</summary>
    /// <exception cref="InvalidDataException">A template or tokenizer_config.json is malformed; the message names the file.</exception>
    public static ChatFormat? Find(ResolvedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Format == ModelFormat.Gguf)
            return FromGguf(model.Path);
        string directory = Directory.Exists(model.Path) ? model.Path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(model.Path))!;
        if (model.TokenizerFile is { } tokenizer && GgufFile.HasMagic(tokenizer))
            return FromGguf(tokenizer);
        return FromDirectory(directory);
    }

    /// <summary>
    /// The chat format in <paramref name="directory"/>: <c>tokenizer_config.json</c> (its <c>chat_template</c>, else a
    /// <c>chat_template.jinja</c> beside it) with the special tokens it names; null when there is no template.
    /// </summary>
    public static ChatFormat? FromDirectory(string directory)
    {
        string configPath = System.IO.Path.Combine(directory, TokenizerConfigFileName);
        string templatePath = System.IO.Path.Combine(directory, TemplateFileName);
        JsonDocument? config = File.Exists(configPath) ? SmallJsonFile.ReadObject(configPath, MaxConfigBytes, "a Hugging Face tokenizer configuration") : null;
        using (config)
        {
            JsonElement root = config?.RootElement ?? default;
            string? source = config is null ? null : TemplateText(root, configPath);
            string origin = configPath;
            if (source is null && File.Exists(templatePath))
            {
                if (new FileInfo(templatePath).Length > MaxConfigBytes)
                    throw new InvalidDataException($"{templatePath}: larger than {MaxConfigBytes} bytes; expected a chat template");
                (source, origin) = (File.ReadAllText(templatePath), templatePath);
            }
            if (source is null)
                return null;
            return new ChatFormat(Parse(source, origin), origin,
                TokenText(root, "bos_token", configPath), TokenText(root, "eos_token", configPath),
                TokenText(root, "unk_token", configPath), TokenText(root, "pad_token", configPath));
        }
    }

    /// <summary>The chat format a GGUF file carries (<c>tokenizer.chat_template</c>), or null.</summary>
    public static ChatFormat? FromGguf(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        if (file.GetString("tokenizer.chat_template") is not { } source)
            return null;
        string[]? tokens = file.GetStringArray("tokenizer.ggml.tokens");
        string? Token(string key) => tokens is not null && file.GetInt32(key, 0, tokens.Length - 1) is int id ? tokens[id] : null;
        return new ChatFormat(Parse(source, path), path, Token("tokenizer.ggml.bos_token_id"), Token("tokenizer.ggml.eos_token_id"),
            Token("tokenizer.ggml.unknown_token_id"), Token("tokenizer.ggml.padding_token_id"));
    }

    private static ChatTemplate Parse(string source, string origin)
    {
        try
        {
            return ChatTemplate.Parse(source);
        }
        catch (ChatTemplateException e)
        {
            throw new InvalidDataException($"{origin}: the chat template does not parse: {e.Message}", e);
        }
    }

    /// <summary><c>chat_template</c>: a string, or a list of <c>{name, template}</c> of which <c>default</c> is used.</summary>
    private static string? TemplateText(JsonElement root, string path)
    {
        if (!root.TryGetProperty("chat_template", out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement entry in value.EnumerateArray())
                if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("name", out JsonElement name) && name.ValueKind == JsonValueKind.String
                    && name.GetString() == "default" && entry.TryGetProperty("template", out JsonElement template) && template.ValueKind == JsonValueKind.String)
                    return template.GetString();
            throw new InvalidDataException($"{path}: chat_template is a list without a {{\"name\": \"default\", \"template\": ...}} entry");
        }
        throw new InvalidDataException($"{path}: chat_template is a {value.ValueKind.ToString().ToLowerInvariant()}; expected a string or a list of named templates");
    }

    /// <summary>A special token's text: a string, or an added-token object <c>{"content": ...}</c>.</summary>
    private static string? TokenText(JsonElement root, string field, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String)
            return content.GetString();
        throw new InvalidDataException($"{path}: {field} is neither a string nor an object with a \"content\" string");
    }
}
