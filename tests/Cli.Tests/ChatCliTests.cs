using System.Text.Json;
using System.Text.Json.Nodes;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// <c>mlpipe chat</c>. The expected prompts are Hugging Face's <c>apply_chat_template(messages, add_generation_prompt=True)</c>
/// for each model family's real template, as rendered by real jinja2 (tests/ChatTemplates.Tests/data, with provenance).
/// </summary>
public class ChatCliTests
{
    private static readonly string ReferenceData = Path.Combine(TestPaths.RepoRoot, "tests", "ChatTemplates.Tests", "data");

    public static TheoryData<string, string> FamilyCases()
    {
        var cases = new TheoryData<string, string>();
        foreach (string template in new[] { "llama2-chat", "llama3-instruct", "mistral-v0.1-instruct", "mistral-v0.3-instruct",
                     "mixtral-8x7b-instruct-original", "tinyllama-chat", "qwen2.5-instruct" })
            foreach (string conversation in new[] { "system_user", "user_only", "multi_turn", "non_ascii" })
                cases.Add(template, conversation);
        return cases;
    }

    [Theory]
    [MemberData(nameof(FamilyCases))]
    public void Print_prompt_is_apply_chat_template_for_each_family(string template, string conversation)
    {
        using JsonDocument expectedFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(ReferenceData, "expected.json")));
        JsonElement expected = expectedFile.RootElement.GetProperty("template_cases").EnumerateArray().Single(c =>
            c.GetProperty("template").GetString() == template && c.GetProperty("conversation").GetString() == conversation &&
            c.GetProperty("add_generation_prompt").GetBoolean());
        JsonNode info = JsonNode.Parse(File.ReadAllText(Path.Combine(ReferenceData, "templates.json")))!.AsArray()
            .Single(t => t!["name"]!.GetValue<string>() == template)!;

        using var dir = new TempDir();
        string model = ChatModelFiles.Write(dir, new JsonObject
        {
            ["chat_template"] = File.ReadAllText(Path.Combine(ReferenceData, "templates", template + ".jinja")),
            ["bos_token"] = info["bos_token"]?.DeepClone(),
            ["eos_token"] = new JsonObject { ["content"] = info["eos_token"]?.DeepClone() },   // the added-token form
            ["unk_token"] = info["unk_token"]?.DeepClone(),
        });
        string messages = dir.File("m.json");
        File.WriteAllText(messages, expectedFile.RootElement.GetProperty("conversations").GetProperty(conversation).GetProperty("messages").GetRawText());

        var result = CliRunner.Run("chat", "--model", model, "--messages", messages, "--print-prompt");
        if (expected.TryGetProperty("error", out _))
        {
            // The template refuses the conversation (raise_exception): its own message, on one line.
            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"mlpipe: error: {expected.GetProperty("message").GetString()}", result.Stderr.TrimEnd());
            return;
        }
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.GetProperty("output").GetString(), result.Stdout);
    }

    /// <summary>The committed Llama 3 tokenizer_config.json, as it is, gives Llama 3 Instruct's prompt.</summary>
    [Fact]
    public void The_real_llama3_tokenizer_config_gives_its_prompt()
    {
        using JsonDocument expectedFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(ReferenceData, "expected.json")));
        using var dir = new TempDir();
        string model = ChatModelFiles.Write(dir, JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Models, "llama3-tokenizer", "tokenizer_config.json")))!.AsObject());
        string messages = dir.File("m.json");
        File.WriteAllText(messages, expectedFile.RootElement.GetProperty("conversations").GetProperty("system_multi_turn").GetProperty("messages").GetRawText());
        var result = CliRunner.Run("chat", "--model", model, "--messages", messages, "--print-prompt");
        Assert.True(result.ExitCode == 0, result.Stderr);
        string expected = expectedFile.RootElement.GetProperty("template_cases").EnumerateArray().Single(c =>
            c.GetProperty("template").GetString() == "llama3-instruct-lenml" && c.GetProperty("conversation").GetString() == "system_multi_turn" &&
            c.GetProperty("add_generation_prompt").GetBoolean()).GetProperty("output").GetString()!;
        Assert.Equal(expected, result.Stdout);
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>", result.Stdout);
    }

    /// <summary>
    /// A real conversation on stories260K with a minimal template: the reply is the greedy continuation the library
    /// generates for the same ids, /reset forgets the history (the same question gets the same reply), /exit stops.
    /// </summary>
    [Fact]
    public void Replies_stream_the_greedy_continuation_and_reset_forgets_the_history()
    {
        using var dir = new TempDir();
        string model = ChatModelFiles.Write(dir, new JsonObject
        {
            ["chat_template"] = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
            ["bos_token"] = "<s>",
            ["eos_token"] = "</s>",
        });
        var result = CliRunner.RunWithInput("Once upon a time\n/reset\nOnce upon a time\n/exit\nnever read\n",
            "chat", "--model", model, "-n", "20");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("conversation reset", result.Stderr);

        string expectedReply = ChatModelFiles.GreedyReply(model, "Once upon a time", 20);
        Assert.Equal(expectedReply + "\n" + expectedReply + "\n", result.Stdout);
        Assert.NotEmpty(expectedReply);
    }

    [Fact]
    public void Bad_messages_and_models_without_a_template_are_one_line_errors()
    {
        using var dir = new TempDir();
        string model = ChatModelFiles.Write(dir, new JsonObject { ["bos_token"] = "<s>" });
        string messages = dir.File("m.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "hi"}]""");
        var noTemplate = CliRunner.Run("chat", "--model", model, "--messages", messages, "--print-prompt");
        Assert.Equal(1, noTemplate.ExitCode);
        Assert.Contains("no chat template found", noTemplate.Stderr);

        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), """{"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}""");
        foreach ((string json, string message) in new[]
        {
            ("""{"role": "user"}""", "the top level is a object; expected an array"),
            ("""[{"role": "user", "content": 3}]""", "message 0 has no string \"content\""),
            ("""[{"role": "user", "content": "a"}, "b"]""", "message 1 has no string \"role\""),
            ("""[{"role": """, "not valid JSON"),
        })
        {
            File.WriteAllText(messages, json);
            var bad = CliRunner.Run("chat", "--model", model, "--messages", messages, "--print-prompt");
            Assert.Equal(1, bad.ExitCode);
            Assert.StartsWith("mlpipe: error: ", bad.Stderr);
            Assert.Contains(message, bad.Stderr);
            Assert.DoesNotContain("   at ", bad.Stderr);
        }
    }
}
