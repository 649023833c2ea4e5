namespace Iwae.Tests;

/// <summary>
/// A test class whose every test gets a fresh folder, <see cref="Dir"/>, under the temporary directory, deleted after
/// the test. With <see cref="CreateDir"/> false the folder does not exist when the test starts, so a test can check
/// that a command left nothing behind.
/// </summary>
public abstract class TempDirTests
{
    /// <summary>This test's folder.</summary>
    protected string Dir { get; private set; } = "";

    /// <summary>Whether <see cref="Dir"/> exists when the test starts.</summary>
    protected virtual bool CreateDir => true;

    [SetUp]
    public void MakeTempDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), $"iwae-{GetType().Name}-{Guid.NewGuid().ToString("N")[..8]}");
        if (CreateDir) Directory.CreateDirectory(Dir);
    }

    /// <summary>Writes <paramref name="bytes"/> to the file <paramref name="name"/> in <see cref="Dir"/>; returns its path.</summary>
    protected string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark to <paramref name="name"/> in <see cref="Dir"/>; returns its path.</summary>
    protected string Write(string name, string text) => Write(name, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));

    [TearDown]
    public void RemoveTempDir()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}
