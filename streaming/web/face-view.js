// The coefficients on the avatar's own 3D face (three.js, vendored): vertices = neutral + sum_i w_i * basis_i,
// computed on the CPU for each drawn frame, then the head pose R = Rz(roll) Ry(yaw) Rx(pitch), v' = R v + t.
// Where WebGL is unavailable the view says so in its element instead of failing the page.
import * as THREE from "./vendor/three.module.js";

export class FaceView {
  /** `element`: where the canvas goes; `mesh`: from client.js's fetchMesh. */
  constructor(element, mesh) {
    this.element = element;
    this.mesh = mesh;
    this.vertices = mesh.vertices;
    this.updates = 0;
    this.displacement = 0; // the largest vertex offset from the neutral in the last update (IOD units)
    this.error = null;
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    } catch (error) {
      this.error = `3D view unavailable: ${error.message || "no WebGL"}`;
      element.textContent = this.error;
      return;
    }
    const width = element.clientWidth || 320;
    const height = element.clientHeight || 320;
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setSize(width, height);
    element.replaceChildren(this.renderer.domElement);

    this.positions = new Float32Array(mesh.neutral);
    this.geometry = new THREE.BufferGeometry();
    this.geometry.setAttribute("position", new THREE.BufferAttribute(this.positions, 3));
    this.geometry.setIndex(new THREE.BufferAttribute(mesh.triangles, 1));
    this.geometry.computeVertexNormals();
    const material = new THREE.MeshStandardMaterial({ color: 0xd9a58a, roughness: 0.7, side: THREE.DoubleSide });
    this.head = new THREE.Mesh(this.geometry, material);
    this.head.rotation.order = "ZYX"; // three's ZYX Euler is Rz * Ry * Rx, the protocol's pose convention

    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x20242b);
    this.scene.add(this.head, new THREE.HemisphereLight(0xffffff, 0x404050, 1.2));
    const key = new THREE.DirectionalLight(0xffffff, 2.0);
    key.position.set(1, 1, 3);
    this.scene.add(key);

    const box = new THREE.Box3().setFromBufferAttribute(this.geometry.getAttribute("position"));
    const centre = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3());
    this.camera = new THREE.PerspectiveCamera(30, width / height, 0.1, 100);
    this.camera.position.set(centre.x, centre.y, centre.z + 2.2 * Math.max(size.x, size.y));
    this.camera.lookAt(centre);
    this.renderer.render(this.scene, this.camera);
  }

  /** Show one frame's coefficients (`blendshapes`: 52 weights, `pose`: pitch, yaw, roll, tx, ty, tz). */
  update(blendshapes, pose) {
    if (this.error || !blendshapes) return;
    const { neutral, blendshapes: basis } = this.mesh;
    const size = neutral.length;
    this.positions.set(neutral);
    for (let shape = 0; shape < blendshapes.length; shape++) {
      const weight = blendshapes[shape];
      if (weight === 0) continue;
      const offset = shape * size;
      for (let i = 0; i < size; i++) this.positions[i] += weight * basis[offset + i];
    }
    let largest = 0;
    for (let i = 0; i < size; i += 3) {
      const dx = this.positions[i] - neutral[i];
      const dy = this.positions[i + 1] - neutral[i + 1];
      const dz = this.positions[i + 2] - neutral[i + 2];
      largest = Math.max(largest, Math.hypot(dx, dy, dz));
    }
    this.displacement = largest;
    this.geometry.getAttribute("position").needsUpdate = true;
    this.geometry.computeVertexNormals();
    if (pose) {
      this.head.rotation.set(pose[0], pose[1], pose[2]);
      this.head.position.set(pose[3], pose[4], pose[5]);
    }
    this.renderer.render(this.scene, this.camera);
    this.updates++;
  }

  dispose() {
    if (this.error) return;
    this.geometry.dispose();
    this.renderer.dispose();
  }
}
