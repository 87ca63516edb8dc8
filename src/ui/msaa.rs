//! Anti-aliasing: which GL renderer draws the window (a GPU or a software
//! rasteriser), how many MSAA samples that calls for, and the multisampled
//! render target the frame is drawn into when there are any.
//!
//! macroquad fixes a window's sample count when it creates the window, before
//! any GL string can be read; 4x MSAA doubles the frame time under a software
//! renderer (llvmpipe: Xvfb, VMs, remote desktops). So the window is always
//! single-sampled, the renderer is read once it exists (`GL_RENDERER`, through
//! our patched miniquad: patches/README.md), and when MSAA is chosen each frame
//! is drawn into a multisampled target the size of the window, resolved and
//! copied to it at the end ([`Scene`]). Screens draw as before, with the
//! default camera's coordinates: the target has the window's size, so
//! `screen_width`, `mouse_position` and friends need no change.
//! The choice itself ([`choose`]) is pure; this module owns no screen.

use macroquad::miniquad::ContextInfo;
use macroquad::prelude::*;

use crate::config::{HARDWARE_MSAA, Msaa};

/// Substrings (lower case) of a software rasteriser's `GL_RENDERER`: Mesa's
/// llvmpipe ("llvmpipe (LLVM 15.0.6, 256 bits)"), softpipe and swrast
/// ("Software Rasterizer"), Apple's "Apple Software Renderer", Windows'
/// built-in OpenGL 1.1 ("GDI Generic").
const SOFTWARE_RENDERERS: [&str; 5] = ["llvmpipe", "softpipe", "swrast", "software", "gdi generic"];

/// Whether `renderer` (`GL_RENDERER`) names a software rasteriser.
pub fn is_software(renderer: &str) -> bool {
    let renderer = renderer.to_ascii_lowercase();
    SOFTWARE_RENDERERS.iter().any(|s| renderer.contains(s))
}

/// Why [`Choice::samples`] is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `--msaa N` (or `ARENA_MSAA`) asked for it.
    Set,
    /// Auto, and the renderer is a GPU.
    Hardware,
    /// Auto, and the renderer is a software rasteriser.
    Software,
    /// Samples were asked for (or picked) but this GL cannot multisample a
    /// render target (GL 2, GLES 2): none.
    Unsupported,
}

/// The anti-aliasing chosen for a renderer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// MSAA samples (1: off).
    pub samples: u8,
    /// Why.
    pub reason: Reason,
}

/// The samples to draw with: an explicit setting always wins, else
/// [`HARDWARE_MSAA`] on a GPU and none on a software `renderer`. With
/// `can_multisample` false (no multisampled render targets) there are none.
pub fn choose(setting: Msaa, renderer: &str, can_multisample: bool) -> Choice {
    let (samples, reason) = match setting {
        Msaa::Samples(n) => (n, Reason::Set),
        Msaa::Auto if is_software(renderer) => (1, Reason::Software),
        Msaa::Auto => (HARDWARE_MSAA, Reason::Hardware),
    };
    if samples > 1 && !can_multisample {
        return Choice {
            samples: 1,
            reason: Reason::Unsupported,
        };
    }
    Choice { samples, reason }
}

/// One line for the log: what was found and what was chosen.
pub fn describe(info: &ContextInfo, choice: Choice) -> String {
    let kind = if is_software(&info.gl_renderer) {
        "a software renderer"
    } else {
        "a hardware renderer"
    };
    let msaa = match choice.samples {
        1 => "MSAA off".to_owned(),
        n => format!("{n}x MSAA"),
    };
    let why = match choice.reason {
        Reason::Set => "as set: --msaa, ARENA_MSAA".to_owned(),
        Reason::Hardware => "auto".to_owned(),
        Reason::Software => format!("auto; --msaa {HARDWARE_MSAA} to force it"),
        Reason::Unsupported => "this GL cannot multisample a render target".to_owned(),
    };
    format!(
        "GL renderer {:?} (vendor {:?}, version {:?}) is {kind}: {msaa} ({why})",
        info.gl_renderer, info.gl_vendor, info.gl_version_string
    )
}

/// A copy of the resolved scene onto the window, without blending: the
/// scene's alpha is whatever blending left there (below 1 under translucent
/// shapes), and its colours are already final.
const BLIT_VERTEX: &str = r#"#version 100
attribute vec3 position;
attribute vec2 texcoord;
varying mediump vec2 uv;
uniform mat4 Model;
uniform mat4 Projection;
void main() {
    gl_Position = Projection * Model * vec4(position, 1);
    uv = texcoord;
}"#;

const BLIT_FRAGMENT: &str = r#"#version 100
varying mediump vec2 uv;
uniform sampler2D Texture;
void main() {
    gl_FragColor = vec4(texture2D(Texture, uv).rgb, 1.0);
}"#;

/// Where a frame is drawn: straight into the window (no MSAA), or into a
/// multisampled render target of the window's size, shown at the end.
pub struct Scene {
    samples: u8,
    /// The target and its size in pixels, made on the first frame and again
    /// when the window's size changes.
    target: Option<(RenderTarget, (u32, u32))>,
    blit: Option<Material>,
}

impl Scene {
    /// A scene drawn with `samples` (1: straight into the window). Call once
    /// the window exists. If the copy's shader cannot be built, there is no
    /// MSAA (logged).
    pub fn new(samples: u8) -> Scene {
        let blit = (samples > 1)
            .then(|| {
                load_material(
                    ShaderSource::Glsl {
                        vertex: BLIT_VERTEX,
                        fragment: BLIT_FRAGMENT,
                    },
                    MaterialParams {
                        // No blending: the default.
                        pipeline_params: PipelineParams::default(),
                        ..Default::default()
                    },
                )
                .map_err(|e| tracing::warn!("no MSAA: cannot build the copy shader: {e}"))
                .ok()
            })
            .flatten();
        Scene {
            samples: if blit.is_some() { samples } else { 1 },
            target: None,
            blit,
        }
    }

    /// The scene for this window's GL renderer and the `--msaa` setting;
    /// logs (once) the renderer found and the anti-aliasing chosen.
    pub fn for_renderer(setting: Msaa) -> Scene {
        let info = context_info();
        let choice = choose(
            setting,
            &info.gl_renderer,
            info.features.resolve_attachments,
        );
        tracing::info!("{}", describe(&info, choice));
        Scene::new(choice.samples)
    }

    /// MSAA samples the frame is drawn with (1: off).
    pub fn samples(&self) -> u8 {
        self.samples
    }

    /// Starts a frame: with MSAA, the following draws (default-camera
    /// coordinates) go into the multisampled target.
    pub fn begin(&mut self) {
        if self.samples <= 1 {
            return;
        }
        let size = (
            screen_width().round().max(1.0) as u32,
            screen_height().round().max(1.0) as u32,
        );
        let target = match &self.target {
            Some((t, s)) if *s == size => t.clone(),
            _ => {
                let t = render_target_ex(
                    size.0,
                    size.1,
                    RenderTargetParams {
                        sample_count: i32::from(self.samples),
                        depth: false,
                    },
                );
                t.texture.set_filter(FilterMode::Nearest);
                self.target = Some((t.clone(), size));
                t
            }
        };
        let mut camera =
            Camera2D::from_display_rect(Rect::new(0.0, 0.0, size.0 as f32, size.1 as f32));
        camera.render_target = Some(target);
        set_camera(&camera);
    }

    /// Ends a frame: with MSAA, resolves the target and copies it onto the
    /// window. Call after the screen has drawn, before a screenshot.
    pub fn present(&mut self) {
        let (Some((target, size)), Some(blit)) = (&self.target, &self.blit) else {
            return;
        };
        if self.samples <= 1 {
            return;
        }
        set_default_camera();
        gl_use_material(blit);
        draw_texture_ex(
            &target.texture,
            0.0,
            0.0,
            WHITE,
            DrawTextureParams {
                dest_size: Some(vec2(size.0 as f32, size.1 as f32)),
                flip_y: true,
                ..Default::default()
            },
        );
        gl_use_default_material();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_renderers_are_recognised() {
        for r in [
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "LLVMPIPE (LLVM 19.1.7, 128 bits)",
            "softpipe",
            "Mesa X11 swrast",
            "Software Rasterizer",
            "Apple Software Renderer",
            "GDI Generic",
            "zink Vulkan 1.3(llvmpipe (LLVM 15.0.6, 256 bits) (MESA_LLVMPIPE))",
        ] {
            assert!(is_software(r), "{r}");
        }
        for r in [
            "NVIDIA GeForce RTX 3060/PCIe/SSE2",
            "Mesa Intel(R) UHD Graphics 620 (KBL GT2)",
            "AMD Radeon 780M Graphics (radeonsi, phoenix, ACO, DRM 3.64)",
            "Apple M1",
            "SVGA3D; build: RELEASE; LLVM;",
            "virgl (Intel(R) UHD Graphics 620)",
            "",
        ] {
            assert!(!is_software(r), "{r}");
        }
    }

    #[test]
    fn auto_is_four_samples_on_a_gpu_and_none_in_software() {
        let gpu = "NVIDIA GeForce RTX 3060/PCIe/SSE2";
        let cpu = "llvmpipe (LLVM 15.0.6, 256 bits)";
        let c = |setting, renderer, can| choose(setting, renderer, can);
        assert_eq!(
            c(Msaa::Auto, gpu, true),
            Choice {
                samples: HARDWARE_MSAA,
                reason: Reason::Hardware
            }
        );
        assert_eq!(
            c(Msaa::Auto, cpu, true),
            Choice {
                samples: 1,
                reason: Reason::Software
            }
        );
        // An explicit setting wins, both ways.
        for renderer in [gpu, cpu] {
            for n in [1, 2, 4, 8] {
                assert_eq!(
                    c(Msaa::Samples(n), renderer, true),
                    Choice {
                        samples: n,
                        reason: Reason::Set
                    }
                );
            }
        }
        // Without multisampled render targets there is none to give.
        assert_eq!(
            c(Msaa::Auto, gpu, false),
            Choice {
                samples: 1,
                reason: Reason::Unsupported
            }
        );
        assert_eq!(
            c(Msaa::Samples(4), cpu, false),
            Choice {
                samples: 1,
                reason: Reason::Unsupported
            }
        );
        assert_eq!(c(Msaa::Samples(1), gpu, false).reason, Reason::Set);
        assert_eq!(c(Msaa::Auto, cpu, false).reason, Reason::Software);
    }
}
