using System.Text.Json.Nodes;
using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>The generate transform's chat mode: rows are user messages written into the model's chat template.</summary>
public class ChatModeTests
{
    private const string Template = "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }} {% else %}{{ m.content }}{% endif %}{% endfor %}";

    private static string ChatModel(TempDir dir, bool withTemplate = true)
    {
        var config = new JsonObject { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
        if (withTemplate) config["chat_template"] = Template;
        return ChatModelFiles.Write(dir, config);
    }

    [Fact]
    public void Rows_are_user_messages_in_the_template_with_the_system_prompt_first_and_survive_save_and_load()
    {
        using var dir = new TempDir();
        string model = ChatModel(dir);
        var ml = new MLContext(seed: 1);
        IDataView data = TextRows.Load(ml, ["a little dog", "the sun"]);
        var options = new LlamaGenerateOptions { Chat = true, SystemPrompt = "Once upon a time", MaxNewTokens = 16 };
        ITransformer fitted = ml.Transforms.Text.GenerateWithLlama(LlamaModelReference.Managed(model), "Reply", "Text", options).Fit(data);
        List<string> replies = TextRows.Column<ReadOnlyMemory<char>>(fitted.Transform(data), "Reply").Select(m => m.ToString()).ToList();

        // The template writes "<s>" + system + " " + user: BOS, then the text "Once upon a time a little dog".
        Assert.Equal(ChatModelFiles.GreedyReply(model, "Once upon a time a little dog", 16), replies[0]);
        Assert.Equal(ChatModelFiles.GreedyReply(model, "Once upon a time the sun", 16), replies[1]);

        LlamaPipelineModel.Save(ml, fitted, data.Schema, dir.File("chat.zip"));
        ITransformer reloaded = LlamaPipelineModel.Load(new MLContext(), dir.File("chat.zip"), out _);
        Assert.Equal(replies, TextRows.Column<ReadOnlyMemory<char>>(reloaded.Transform(data), "Reply").Select(m => m.ToString()).ToList());
    }

    [Fact]
    public void A_model_without_a_chat_template_is_refused_at_fit_and_a_system_prompt_needs_chat_mode()
    {
        using var dir = new TempDir();
        string model = ChatModel(dir, withTemplate: false);
        var ml = new MLContext(seed: 1);
        IDataView data = TextRows.Load(ml, ["hi"]);
        var e = Assert.Throws<InvalidDataException>(() => ml.Transforms.Text.GenerateWithLlama(
            LlamaModelReference.Managed(model), "Reply", "Text", new LlamaGenerateOptions { Chat = true }).Fit(data));
        Assert.Contains("no chat template found", e.Message);

        var a = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.GenerateWithLlama(
            LlamaModelReference.Managed(model), "Reply", "Text", new LlamaGenerateOptions { SystemPrompt = "x" }));
        Assert.Contains("only used in chat mode", a.Message);
    }
}
