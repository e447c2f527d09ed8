using MlPipelines.ChatTemplates;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tests.Formats.Gguf;
using MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Chat;

public class ChatFormatTests
{
    private static readonly ChatMessage[] Conversation = [ChatMessage.System("Be brief."), ChatMessage.User("Hi!")];

    [Fact]
    public void Llama3_prompt_encodes_its_control_tokens_as_single_ids_and_stops_at_eot()
    {
        ChatFormat format = ChatFormat.FromDirectory(Llama3Files.Directory)!;
        string prompt = format.Render(Conversation, addGenerationPrompt: true);
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
            "Hi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt);

        var tokenizer = (HuggingFaceTokenizer)TokenizerLoaderFor(Llama3Files.TokenizerJson);
        int[] ids = ChatPrompt.Encode(tokenizer, format, prompt);
        Assert.Equal([128000, 128006], ids[..2]);                    // <|begin_of_text|> <|start_header_id|>, no BOS added twice
        Assert.Equal(tokenizer.Encode(prompt, addBos: false, addEos: false, parseSpecialTokens: true), ids);
        Assert.Equal(2, ids.Count(id => id == 128009));                // the system's and the user's <|eot_id|>

        var config = new ModelConfig { Dim = 8, HiddenDim = 8, LayerCount = 1, HeadCount = 1, KvHeadCount = 1, VocabSize = 128256, MaxSequenceLength = 8, EosId = 128001 };
        Assert.Equal([128001, 128009], ChatPrompt.StopIds(config, tokenizer, format));   // the template's eos_token <|eot_id|>
    }

    [Fact]
    public void SentencePiece_prompts_map_the_bos_and_eos_text_to_their_ids()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer_config.json"), """
            {"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"}],
             "bos_token": {"content": "<s>", "special": true}, "eos_token": "</s>"}
            """);
        ChatFormat format = ChatFormat.FromDirectory(dir.Path)!;
        PieceTokenizer tokenizer = MlPipelines.ManagedEngine.Loading.TokenizerLoader.Load(TestPaths.Tok512Model);
        int[] ids = ChatPrompt.Encode(tokenizer, format, format.Render([ChatMessage.User("Once upon a time")], addGenerationPrompt: false));
        Assert.Equal([.. tokenizer.Encode("Once upon a time", addBos: true, addEos: true)], ids);
    }

    [Fact]
    public void Template_file_and_gguf_templates_are_found_and_bad_ones_named()
    {
        using var dir = new TempDir();
        Assert.Null(ChatFormat.FromDirectory(dir.Path));
        File.WriteAllText(dir.File("chat_template.jinja"), "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
        Assert.Equal("[user] Hi!\n", ChatFormat.FromDirectory(dir.Path)!.Render([ChatMessage.User("Hi!")], false));

        File.WriteAllText(dir.File("tokenizer_config.json"), """{"chat_template": 5}""");
        Assert.Contains("chat_template is a number", Assert.Throws<InvalidDataException>(() => ChatFormat.FromDirectory(dir.Path)).Message);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"chat_template": "{% for m in messages %}"}""");
        var parse = Assert.Throws<InvalidDataException>(() => ChatFormat.FromDirectory(dir.Path));
        Assert.Contains("tokenizer_config.json: the chat template does not parse", parse.Message);

        string[] vocabulary = ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "e", "f", "g"];
        string gguf = TinyGguf.Valid().Str("tokenizer.chat_template", "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}")
            .Strings("tokenizer.ggml.tokens", vocabulary).U32("tokenizer.ggml.bos_token_id", 1).U32("tokenizer.ggml.eos_token_id", 2)
            .WriteTo(dir.File("chat.gguf"));
        Assert.Equal("<s>Hi!</s>", ChatFormat.FromGguf(gguf)!.Render([ChatMessage.User("Hi!")], false));   // bos/eos text from the file's ids
        Assert.Null(ChatFormat.FromGguf(TinyGguf.Valid().WriteTo(dir.File("plain.gguf"))));
    }

    private static PieceTokenizer TokenizerLoaderFor(string path) => MlPipelines.ManagedEngine.Loading.TokenizerLoader.Load(path);
}
