namespace MlPipelines.Hub.Tests;

/// <summary>The matcher against Python's fnmatch.fnmatchcase (expected values checked with CPython 3.11).</summary>
public sealed class GlobPatternTests
{
    [Theory]
    [InlineData("model.safetensors", "*.safetensors", true)]
    [InlineData("sub/dir/model.safetensors", "*.safetensors", true)]       // '*' crosses '/' in fnmatch
    [InlineData("model.safetensors.index.json", "*.safetensors", false)]
    [InlineData("model.safetensors.index.json", "*.safetensors.index.json", true)]
    [InlineData("config.json", "config.json", true)]
    [InlineData("sub/config.json", "config.json", false)]
    [InlineData("Config.json", "config.json", false)]                      // case-sensitive, as on Linux
    [InlineData("tiny-Q4_K_M.gguf", "*Q4_K_M.gguf", true)]
    [InlineData("tiny-Q8_0.gguf", "*Q4_K_M.gguf", false)]
    [InlineData("tiny-Q4_K_M.gguf", "*.gguf", true)]
    [InlineData("a", "?", true)]
    [InlineData("/", "?", true)]
    [InlineData("ab", "?", false)]
    [InlineData("", "*", true)]
    [InlineData("", "", true)]
    [InlineData("a", "", false)]
    [InlineData("abc", "a*b*c", true)]
    [InlineData("abxbc", "a*b*c", true)]
    [InlineData("abcx", "a*b*c", false)]
    [InlineData("aXbYc", "a*b?c", true)]
    [InlineData("model-00001-of-00002.safetensors", "model-0000[0-9]-of-*.safetensors", true)]
    [InlineData("model-0000a-of-00002.safetensors", "model-0000[0-9]-of-*.safetensors", false)]
    [InlineData("b", "[abc]", true)]
    [InlineData("d", "[abc]", false)]
    [InlineData("d", "[!abc]", true)]
    [InlineData("a", "[!abc]", false)]
    [InlineData("]", "[]]", true)]                                          // ']' first in a set is literal
    [InlineData("]", "[!]]", false)]
    [InlineData("x", "[!]]", true)]
    [InlineData("-", "[a-]", true)]
    [InlineData("-", "[-a]", true)]
    [InlineData("b", "[a-c]", true)]
    [InlineData("-", "[a-c]", false)]
    [InlineData("b", "[c-a]", false)]                                       // reversed range: empty
    [InlineData("[", "[", true)]                                            // unclosed '[' is literal
    [InlineData("[ab", "[ab", true)]
    [InlineData("a", "[ab", false)]
    [InlineData("^", "[^a]", true)]                                         // '^' is not negation in fnmatch
    [InlineData("b", "[^a]", false)]
    [InlineData(@"a\b", @"a\b", true)]                                      // no escape character
    [InlineData("a*b", "a[*]b", true)]
    [InlineData("axb", "a[*]b", false)]
    [InlineData("d", "[a-c-e]", false)]
    [InlineData("-", "[a-c-e]", true)]
    [InlineData("e", "[a-c-e]", true)]
    [InlineData("abc", "***", true)]
    [InlineData("original/params.json", "original/*", true)]
    public void Matches_like_fnmatch(string name, string pattern, bool expected) =>
        Assert.Equal(expected, GlobPattern.IsMatch(name, pattern));

    [Fact]
    public void Many_stars_do_not_take_exponential_time()
    {
        string name = new string('a', 5000);
        Assert.False(GlobPattern.IsMatch(name, "*a*a*a*a*a*a*a*a*a*b"));
    }
}
