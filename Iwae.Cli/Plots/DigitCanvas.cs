using SkiaSharp;

namespace Iwae.Cli.Plots;

/// <summary>Drawing digits and labels with SkiaSharp, for the image-grid figures.</summary>
internal static class DigitCanvas
{
    /// <summary>Space around a figure, pixels.</summary>
    public const int Padding = 8;

    /// <summary>Draws a side x side image of grey levels in [0, 1] (white digit on black) scaled by an integer factor, pixels kept square.</summary>
    public static void DrawDigit(SKCanvas canvas, ReadOnlySpan<float> pixels, int side, float x, float y, int scale)
    {
        if (pixels.Length != side * side) throw new ArgumentException($"a {side}x{side} image needs {side * side} pixels, got {pixels.Length}");
        var bytes = new byte[side * side];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)Math.Round(255 * Math.Clamp(float.IsFinite(pixels[i]) ? pixels[i] : 0f, 0f, 1f));
        using var image = SKImage.FromPixelCopy(new SKImageInfo(side, side, SKColorType.Gray8, SKAlphaType.Opaque), bytes, side)
            ?? throw new InvalidOperationException("cannot create a digit image");
        canvas.DrawImage(image, SKRect.Create(x, y, side * scale, side * scale), new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
    }

    /// <summary>Draws text with its baseline at y (left, centred or right aligned at x).</summary>
    public static void DrawText(SKCanvas canvas, string text, float x, float y, float size, SKTextAlign align = SKTextAlign.Left, bool bold = false)
    {
        using var typeface = SKTypeface.FromFamilyName(Figure.FontName, bold ? SKFontStyle.Bold : SKFontStyle.Normal) ?? SKTypeface.Default;
        using var font = new SKFont(typeface, size);
        using var paint = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
        canvas.DrawText(text, x, y, align, font, paint);
    }

    /// <summary>A white surface of the given size; throws if Skia cannot make one.</summary>
    public static SKSurface NewSurface(int width, int height)
    {
        var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"cannot create a {width}x{height} drawing surface");
        surface.Canvas.Clear(SKColors.White);
        return surface;
    }
}
