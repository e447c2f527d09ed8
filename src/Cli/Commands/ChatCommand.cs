using System.CommandLine;
using System.Text.Json;
using MlPipelines.ChatTemplates;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe chat</c>: a conversation in the model's own chat format. Lines from standard input are the user's turns
/// (<c>/reset</c> forgets the history, <c>/exit</c> or end of input stops); each reply is streamed as it is generated and
/// ends at any of the model's end-of-turn ids. <c>--messages</c> starts from a conversation in a file, and
/// <c>--print-prompt</c> prints the rendered prompt (what <c>apply_chat_template(messages, add_generation_prompt=True)</c>
/// gives) without running the model.
/// </summary>
internal static class ChatCommand
{
    private const long MaxMessagesFileBytes = 64 << 20;

    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer file; default: the one beside the model." };
        var system = new Option<string?>("--system") { Description = "A system message put first in the conversation." };
        var messages = new Option<string?>("--messages") { Description = "A JSON file holding the conversation so far: an array of {\"role\": ..., \"content\": ...}." };
        var printPrompt = new Option<bool>("--print-prompt") { Description = "Print the rendered prompt and exit; the model is not run." };
        var maxNewTokens = new Option<int>("--max-new-tokens", "-n") { Description = "At most this many tokens per reply.", DefaultValueFactory = _ => 512 };
        var sampling = new SamplingArguments(defaultTemperature: 0, "Random seed; 0 = from the clock.");
        var engine = new EngineArguments();

        var command = new Command("chat", "Chat with a model in its own chat template (tokenizer_config.json or GGUF).")
        {
            model, tokenizer, system, messages, printPrompt, maxNewTokens,
        };
        sampling.AddTo(command);
        engine.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            ResolvedModel resolved = ResolvedModel.Resolve(parse.GetValue(model), parse.GetValue(tokenizer));
            ChatFormat format = ChatFormat.Find(resolved) ?? throw new InvalidDataException(
                $"{resolved.Path}: no chat template found (tokenizer_config.json's chat_template, {ChatFormat.TemplateFileName} or a GGUF's " +
                "tokenizer.chat_template); this model is not a chat model, use `mlpipe generate`.");
            var history = new List<ChatMessage>();
            if (parse.GetValue(system) is { } systemText) history.Add(ChatMessage.System(systemText));
            if (parse.GetValue(messages) is { } file) history.AddRange(ReadMessages(file));

            if (parse.GetValue(printPrompt))
            {
                console.Out.Write(format.Render(history, addGenerationPrompt: true));
                console.Out.Flush();
                return Task.FromResult(0);
            }
            var options = new GenerationOptions
            {
                MaxSteps = 0,
                MaxNewTokens = parse.GetValue(maxNewTokens),
                Sampling = sampling.Resolve(parse, resolved),
            };
            options.Validate();
            using LoadedModel loaded = engine.Open(parse, console, resolved);
            options = options with { StopTokenIds = ChatPrompt.StopIds(loaded.Model.Config, loaded.Tokenizer, format) };
            return Task.FromResult(Converse(console, loaded, format, history, options, cancellationToken));
        });
        return command;
    }

    private static int Converse(CliConsole console, LoadedModel loaded, ChatFormat format, List<ChatMessage> history, GenerationOptions options, CancellationToken ct)
    {
        int initial = history.Count;
        if (history.Count > 0 && history[^1].Role == "user")
            history.Add(ChatMessage.Assistant(Reply(console, loaded, format, history, options, ct)));
        while (!ct.IsCancellationRequested)
        {
            if (console.IsTerminal) { console.Out.Write("> "); console.Out.Flush(); }
            string? line = console.In.ReadLine();
            if (line is null || line.Trim() == "/exit") break;
            if (line.Trim() == "/reset")
            {
                history.RemoveRange(initial, history.Count - initial);
                console.Error.WriteLine("mlpipe: conversation reset");
                continue;
            }
            if (line.Length == 0) continue;
            history.Add(ChatMessage.User(line));
            history.Add(ChatMessage.Assistant(Reply(console, loaded, format, history, options, ct)));
        }
        return 0;
    }

    /// <summary>Generates and streams the assistant's reply to <paramref name="history"/>; returns its text.</summary>
    private static string Reply(CliConsole console, LoadedModel loaded, ChatFormat format, List<ChatMessage> history, GenerationOptions options, CancellationToken ct)
    {
        int[] prompt = ChatPrompt.Encode(loaded.Tokenizer, format, format.Render(history, addGenerationPrompt: true));
        if (prompt.Length == 0)
            throw new InvalidDataException("the chat template rendered an empty prompt for this conversation");
        if (prompt.Length >= loaded.Model.Config.MaxSequenceLength)
            throw new InvalidDataException($"the conversation is {prompt.Length} tokens, which fills the model's context of " +
                $"{loaded.Model.Config.MaxSequenceLength}; use /reset to start over");
        using var session = loaded.Model.CreateSession();
        var reply = new List<int>();
        foreach (GeneratedToken token in Generator.Generate(session, prompt, options, ct))
        {
            if (token.IsPrompt) continue;
            reply.Add(token.Id);
            console.Raw.Write(loaded.Tokenizer.GetPieceBytes(token.Previous, token.Id));
            console.Raw.Flush();
        }
        console.Raw.WriteByte((byte)'\n');
        console.Raw.Flush();
        return loaded.Tokenizer.Decode(reply) ?? "";
    }

    /// <summary>Reads a JSON array of {role, content} objects; every problem names the file and the entry.</summary>
    internal static List<ChatMessage> ReadMessages(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Messages file '{path}' does not exist.", path);
        if (new FileInfo(path).Length > MaxMessagesFileBytes)
            throw new InvalidDataException($"{path}: larger than {MaxMessagesFileBytes} bytes; expected a JSON array of messages");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); expected an array of {{\"role\": ..., \"content\": ...}}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: the top level is a {document.RootElement.ValueKind.ToString().ToLowerInvariant()}; expected an array of {{\"role\": ..., \"content\": ...}}");
            var result = new List<ChatMessage>();
            int index = 0;
            foreach (JsonElement entry in document.RootElement.EnumerateArray())
            {
                string Field(string name) =>
                    entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String
                        ? v.GetString()!
                        : throw new InvalidDataException($"{path}: message {index} has no string \"{name}\"; expected {{\"role\": ..., \"content\": ...}}");
                result.Add(new ChatMessage(Field("role"), Field("content")));
                index++;
            }
            return result;
        }
    }
}
