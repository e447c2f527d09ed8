using System.Text;
using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.Tests.Support;

/// <summary>
/// A chat model for tests: stories260K's Hugging Face files and tokenizer with a tokenizer_config.json of the test's
/// choosing, and the library's plain greedy continuation as the reference a chat reply is compared with.
/// </summary>
internal static class ChatModelFiles
{
    /// <summary>Writes the model directory into <paramref name="dir"/> and returns its path.</summary>
    public static string Write(TempDir dir, JsonObject tokenizerConfig)
    {
        string model = dir.File("model");
        Directory.CreateDirectory(model);
        foreach (string file in Directory.GetFiles(Path.Combine(TestPaths.Models, "stories260K-hf")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        File.Copy(TestPaths.Tok512Model, Path.Combine(model, "tokenizer.model"));
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        return model;
    }

    /// <summary>The greedy continuation of <paramref name="text"/> after BOS: at most <paramref name="maxNewTokens"/> tokens' text.</summary>
    public static string GreedyReply(string model, string text, int maxNewTokens)
    {
        using var loaded = ManagedModelLoader.LoadModel(model);
        PieceTokenizer tokenizer = TokenizerLoader.Load(TestPaths.Tok512Model);
        using var session = loaded.CreateSession();
        var bytes = new List<byte>();
        foreach (GeneratedToken t in Generator.Generate(session, tokenizer.Encode(text, addBos: true, addEos: false),
                     new GenerationOptions { MaxSteps = 0, MaxNewTokens = maxNewTokens }))
            if (!t.IsPrompt) bytes.AddRange(tokenizer.GetPieceBytes(t.Previous, t.Id).ToArray());
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
