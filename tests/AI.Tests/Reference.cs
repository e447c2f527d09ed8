using System.Text;
using Microsoft.Extensions.AI;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.AI.Tests;

/// <summary>The library's own generation, the reference every reply is held to, and helpers to collect a client's stream.</summary>
internal static class Reference
{
    /// <summary>stories260K on the managed engine with its tok512 tokenizer.</summary>
    public static LoadedModel Stories() => LanguageModels.Open(TestPaths.Stories260K, TestPaths.Tok512Bin, EngineKind.Managed);

    /// <summary>
    /// What <see cref="Generator"/> generates for <paramref name="prompt"/> on a fresh session: the new tokens' bytes decoded
    /// as UTF-8 at once, and how many tokens there were.
    /// </summary>
    public static (string Text, int Tokens) Generate(ILanguageModel model, PieceTokenizer tokenizer, int[] prompt, SamplingOptions sampling,
        int maxNewTokens, IReadOnlyList<int>? stopIds = null)
    {
        using IModelSession session = model.CreateSession();
        var bytes = new List<byte>();
        int count = 0;
        var options = new GenerationOptions { MaxSteps = 0, MaxNewTokens = maxNewTokens, Sampling = sampling, StopTokenIds = stopIds ?? [] };
        foreach (GeneratedToken token in Generator.Generate(session, prompt, options))
        {
            if (token.IsPrompt) continue;
            bytes.AddRange(tokenizer.GetPieceBytes(token.Previous, token.Id).ToArray());
            count++;
        }
        return (Encoding.UTF8.GetString(bytes.ToArray()), count);
    }

    /// <summary>A plain-text prompt as <c>mlpipe generate --prompt</c> encodes it: BOS, then the text.</summary>
    public static int[] Plain(PieceTokenizer tokenizer, string text) => tokenizer.Encode(text, addBos: true, addEos: false);

    /// <summary>Every update of a streamed reply.</summary>
    public static async Task<List<ChatResponseUpdate>> Stream(IChatClient client, string user, ChatOptions? options, CancellationToken ct = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, user)], options, ct))
            updates.Add(update);
        return updates;
    }

    /// <summary>The text of a stream's updates joined.</summary>
    public static string Text(IEnumerable<ChatResponseUpdate> updates) => string.Concat(updates.Select(u => u.Text));
}
